//go:build wasip1

// Command pair shows one object calling another and receiving the outcome in
// a continuation, including the two ways a call can fail.
//
// Every object of the class can play both roles. The asker's ask handler
// calls the answerer's answer handler and returns at once. When the outcome
// arrives, the host runs the asker's gotAnswer handler as a new turn, with
// the arguments the asker bound when it made the call. The result
// placeholder sits in the middle of them:
//
//	guest.Then("gotAnswer", question, guest.Placeholder, askedAt)
//
// so gotAnswer(question, result, askedAt) receives the outcome as its second
// argument. The outcome is a guest.Result: the answer, or an error whose code
// says what went wrong:
//
//   - a question the answerer knows gets its answer;
//   - an unknown question makes answer return an error, which the asker
//     receives as guest_error with the answerer's message;
//   - the slow question, "meaning of life?", keeps the answerer busy for
//     half a second, so an asker that allows less time receives timeout,
//     and the answer that comes later is dropped.
//
// All three land in the same continuation. It stores what it received, and
// the exposed answers handler returns the stored records.
//
// Handlers:
//
//	ask(answerer, question string, timeoutMS int)
//	                                asks the object pair/<answerer> and waits
//	                                at most timeoutMS, or the host's default
//	                                call timeout (30 s) when timeoutMS <= 0
//	answer(question string) string  answers a question, or fails
//	answers() []Answer              what this object has received, by question
//	gotAnswer (local)               the continuation of ask
package main

import (
	"fmt"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/guest"
)

// slowQuestion takes thinkTime to answer.
const (
	slowQuestion = "meaning of life?"
	thinkTime    = 500 * time.Millisecond
)

// known maps the questions the answerer can answer at once to their answers.
var known = map[string]string{
	"capital of France?": "Paris",
	"6 * 7?":             "42",
}

// answerPrefix starts the storage key of each received answer. Keys are
// sorted, so listing the prefix returns the answers in question order.
const answerPrefix = "answer/"

func init() {
	guest.Expose3("ask", ask)
	guest.Expose1("answer", answer)
	guest.Expose0("answers", answers)
	// A local handler runs only as a continuation of its own object: no
	// other object or client can invoke gotAnswer and forge an answer.
	guest.Local3("gotAnswer", gotAnswer)
}

func main() {}

// ask calls answer on the object pair/<answerer> and returns before the
// answer exists. The bound arguments are all that gotAnswer will know about
// this call, because no Go stack survives between the two turns.
func ask(c *guest.Ctx, answerer, question string, timeoutMS int) (guest.None, error) {
	target := guest.Object(c.Self().Class, answerer)
	askedAt := time.Now().UnixMilli()
	then := guest.Then("gotAnswer", question, guest.Placeholder, askedAt)
	// A zero timeout means the host's default.
	timeout := guest.Timeout(time.Duration(max(timeoutMS, 0)) * time.Millisecond)
	_, err := c.Call(target, guest.Op("answer", question), then, timeout)
	return guest.None{}, err
}

// answer returns the answer to question. Any error that is not a
// *callhost.Error reaches the caller as guest_error with the error's text.
func answer(c *guest.Ctx, question string) (string, error) {
	if question == slowQuestion {
		think(thinkTime)
		return "42", nil
	}
	a, ok := known[question]
	if !ok {
		return "", fmt.Errorf("no answer to %q", question)
	}
	return a, nil
}

// think keeps the instance busy for d to simulate slow work. The asker's call
// timeout counts while the turn runs. Real handlers should finish well
// within the host's turn deadline, 5 s by default, which stops longer turns.
func think(d time.Duration) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
	}
}

// Answer is the record of the outcome an asker received for one question.
type Answer struct {
	Question string `msgpack:"question"`
	Answer   string `msgpack:"answer,omitempty"`
	// Code is the error code name, such as "timeout", or "ok".
	Code    string `msgpack:"code"`
	Message string `msgpack:"message,omitempty"`
	// WaitedMS is the time from the call to the outcome, in milliseconds.
	WaitedMS int64 `msgpack:"waited_ms"`
}

// gotAnswer is the continuation of ask. The host replaced the placeholder
// with the outcome, so r holds either the answer or the error.
func gotAnswer(c *guest.Ctx, question string, r guest.Result[string],
	askedAt int64) (guest.None, error) {
	a := Answer{
		Question: question,
		Code:     "ok",
		WaitedMS: time.Now().UnixMilli() - askedAt,
	}
	if r.Err != nil {
		a.Code, a.Message = r.Err.Code.String(), r.Err.Message
		c.Logger().Warn("question failed", "question", question, "err", r.Err)
	} else {
		a.Answer = r.Value
	}
	return guest.None{}, guest.Store(c, answerPrefix+question, a)
}

// answers returns the stored answers, sorted by question.
func answers(c *guest.Ctx) ([]Answer, error) {
	kvs, err := c.List(answerPrefix)
	if err != nil {
		return nil, err
	}
	out := make([]Answer, 0, len(kvs))
	for _, kv := range kvs {
		var a Answer
		// Stored values are MessagePack, the encoding of results too.
		if err := callhost.Result(kv.Value).Decode(&a); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}
