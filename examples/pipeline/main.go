//go:build wasip1

// Command pipeline shows a request that travels through several objects and
// is answered by the last one, with Forward.
//
// An order line such as "3 apple" goes through three stages, each on an
// object of its own:
//
//	client calls parse("3 apple")  on pipeline/parse
//	parse forwards enrich(Order)   to pipeline/enrich
//	enrich forwards format(Line)   to pipeline/format
//	format returns "3 apple at 0.40 = 1.20", which answers the client
//
// Each stage does its part and forwards the rest of the work to the next
// stage. A forwarded call carries the duty to answer: whatever the next
// stage returns, or fails with, goes to whoever waits for the current call.
// So the client makes one call to parse and receives format's result, and no
// stage waits for another or needs a continuation. A stage that fails, such
// as enrich with an item it has no price for, fails the client's call in the
// same way.
//
// Handlers (all exposed, so that each stage can also be called on its own):
//
//	parse(line string) string     parses "QTY ITEM" and forwards an Order
//	enrich(o Order) string        adds prices and forwards a Line
//	format(l Line) string         returns the line as text
package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/callhost/callhost/guest"
)

// The ids of the stage objects. Each stage runs on its own object, so a slow
// stage holds up only its own queue, and the stages of different requests
// overlap.
const (
	enrichID = "enrich"
	formatID = "format"
)

// prices lists the unit price of each item in cents.
var prices = map[string]int{"apple": 40, "pear": 55, "plum": 25}

func init() {
	guest.Expose1("parse", parse)
	guest.Expose1("enrich", enrich)
	guest.Expose1("format", format)
}

func main() {}

// Order is a parsed order line. Struct arguments are encoded as MessagePack
// maps, with the keys that the tags set.
type Order struct {
	Item string `msgpack:"item"`
	Qty  int    `msgpack:"qty"`
}

// Line is an order line with prices, in cents.
type Line struct {
	Item       string `msgpack:"item"`
	Qty        int    `msgpack:"qty"`
	UnitCents  int    `msgpack:"unit_cents"`
	TotalCents int    `msgpack:"total_cents"`
}

// parse parses a line of the form "QTY ITEM" and forwards the order to the
// enrich stage. Its own result is ignored once it forwards, so it returns "".
func parse(c *guest.Ctx, line string) (string, error) {
	fields := strings.Fields(line)
	if len(fields) != 2 {
		return "", fmt.Errorf("invalid order line %q: want QTY ITEM", line)
	}
	qty, err := strconv.Atoi(fields[0])
	if err != nil || qty <= 0 {
		return "", fmt.Errorf("invalid quantity %q in %q: want a positive integer",
			fields[0], line)
	}
	o := Order{Item: fields[1], Qty: qty}
	return "", c.Forward(stage(c, enrichID), guest.Op("enrich", o))
}

// enrich prices the order and forwards it to the format stage.
func enrich(c *guest.Ctx, o Order) (string, error) {
	unit, ok := prices[o.Item]
	if !ok {
		return "", fmt.Errorf("no price for item %q", o.Item)
	}
	l := Line{Item: o.Item, Qty: o.Qty, UnitCents: unit, TotalCents: unit * o.Qty}
	return "", c.Forward(stage(c, formatID), guest.Op("format", l))
}

// format returns the priced line as text. It is the last stage, so its
// result answers the client's call to parse. Hops lists the senders that led
// here, oldest first: the client, then parse, then enrich.
func format(c *guest.Ctx, l Line) (string, error) {
	c.Logger().Debug("formatting", "item", l.Item, "hops", len(c.Hops()))
	return fmt.Sprintf("%d %s at %s = %s",
		l.Qty, l.Item, money(l.UnitCents), money(l.TotalCents)), nil
}

// stage returns the address of the stage object id, in this object's class,
// so the pipeline works whatever name the module is loaded under.
func stage(c *guest.Ctx, id string) guest.Address {
	return guest.Object(c.Self().Class, id)
}

// money formats cents as units with two decimals.
func money(cents int) string {
	return fmt.Sprintf("%d.%02d", cents/100, cents%100)
}
