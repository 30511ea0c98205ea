package runtime

import (
	"fmt"
	"sort"
	"strings"

	"github.com/callhost/callhost"
)

// CallRules maps a calling class to the classes that its objects may call.
// Among the targets, "*" allows every class and callhost.ClassClient
// ("@client") allows calls to connected clients. When CallRules is not nil,
// a class that it does not list may call nothing, not even objects of its own
// class. A call that breaks a rule fails in the guest's call import with
// callhost.CodeForbidden. Outside callers and continuations are not subject
// to the rules.
type CallRules map[string][]string

// Check returns an error naming an invalid class name in r, or nil.
func (r CallRules) Check() error {
	_, err := compileRules(r)
	return err
}

// anyClass is the target that allows every class.
const anyClass = "*"

// classRule is the compiled rule of one calling class.
type classRule struct {
	caller  string
	any     bool
	targets map[string]struct{}
	allowed string // the allowed targets, for error messages
}

// compileRules checks rules and compiles them by calling class. It returns
// nil for nil rules.
func compileRules(rules CallRules) (map[string]*classRule, error) {
	if rules == nil {
		return nil, nil
	}
	out := make(map[string]*classRule, len(rules))
	for caller, targets := range rules {
		if !callhost.ValidClassName(caller) {
			return nil, fmt.Errorf("call rules: invalid calling class %q", caller)
		}
		r := &classRule{caller: caller, targets: make(map[string]struct{}, len(targets))}
		for _, t := range targets {
			valid := t == anyClass || t == callhost.ClassClient || callhost.ValidClassName(t)
			if !valid {
				return nil, fmt.Errorf("call rules: class %q: invalid target class %q: "+
					"use a class name, %q or %q", caller, t, anyClass, callhost.ClassClient)
			}
			r.any = r.any || t == anyClass
			r.targets[t] = struct{}{}
		}
		r.allowed = describeTargets(targets)
		out[caller] = r
	}
	return out, nil
}

func describeTargets(targets []string) string {
	if len(targets) == 0 {
		return "no class"
	}
	sorted := append([]string(nil), targets...)
	sort.Strings(sorted)
	return strings.Join(sorted, ", ")
}

// ruleFor returns the rule of class name: nil when the runtime has no rules,
// and a rule that allows nothing when the rules do not list the class.
func (rt *Runtime) ruleFor(name string) *classRule {
	if rt.rules == nil {
		return nil
	}
	if r := rt.rules[name]; r != nil {
		return r
	}
	return &classRule{caller: name, allowed: "no class: the call rules do not list it"}
}

// allow returns a forbidden error unless the rule lets an object of its class
// call target. It costs one map lookup.
func (r *classRule) allow(from, target callhost.Address) error {
	if r.any {
		return nil
	}
	if _, ok := r.targets[target.Class]; ok {
		return nil
	}
	return callhost.Errorf(callhost.CodeForbidden,
		"call rules forbid %s to call %s: class %q may call %s",
		from, target, r.caller, r.allowed)
}
