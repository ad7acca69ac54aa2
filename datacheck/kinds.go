package datacheck

import "fmt"

// kind is what a column holds, as far as comparing it goes. Each engine
// maps its own types to a kind (dialect.kindOf), a pair of columns gets
// one kind for both sides (pairKind), and each side renders its column in
// that kind's canonical text (dialect.canon), which is the same text on
// every engine: what is hashed, and what rows are compared by.
type kind int

const (
	kOther       kind = iota // the engine's own text form
	kInt                     // decimal digits
	kDecimal                 // fixed scale: 12.50
	kFloat                   // the engine's shortest form; compared by value across engines
	kBool                    // 1 or 0
	kText                    // the text itself, UTF-8
	kTimestamp               // 2006-01-02T15:04:05.000000, UTC for zoned types
	kTimestampTZ             // a zoned timestamp, rendered as kTimestamp in UTC
	kDate                    // 2006-01-02
	kBytes                   // lowercase hex
	kJSON                    // the engine's normal form; compared by value across engines
	kUUID                    // lowercase, with hyphens
)

var kindNames = map[kind]string{
	kOther: "other", kInt: "integer", kDecimal: "decimal", kFloat: "float", kBool: "boolean",
	kText: "text", kTimestamp: "timestamp", kTimestampTZ: "timestamptz", kDate: "date",
	kBytes: "bytes", kJSON: "json", kUUID: "uuid",
}

func (k kind) String() string { return kindNames[k] }

// keyKinds are the kinds a key column may have: their canonical text
// reads back as a value of the column on both engines, so chunk bounds can
// be sent as parameters.
var keyKinds = map[kind]bool{kInt: true, kDecimal: true, kText: true, kUUID: true, kDate: true, kTimestamp: true, kTimestampTZ: true}

// column is one column of a table as its database declares it.
type column struct {
	Name  string
	Type  string // the engine's type name, for messages
	Kind  kind
	Scale int // decimal scale; -1 when unconstrained
}

// pairKind is the kind both sides of a column are rendered in, and the
// decimal scale (-1 for none): round, when set, wins for numbers.
func pairKind(a, b column, round *int) (kind, int) {
	if round != nil && isNumber(a.Kind) && isNumber(b.Kind) {
		return kDecimal, *round
	}
	ka, kb := a.Kind, b.Kind
	if ka == kTimestampTZ {
		ka = kTimestamp
	}
	if kb == kTimestampTZ {
		kb = kTimestamp
	}
	if ka == kb {
		return ka, max(a.Scale, b.Scale)
	}
	switch {
	case either(ka, kb, kBool, kInt):
		return kBool, -1
	case either(ka, kb, kJSON, kText):
		return kJSON, -1
	case either(ka, kb, kUUID, kText):
		return kUUID, -1
	case isNumber(ka) && isNumber(kb):
		return kDecimal, max(a.Scale, b.Scale, 0)
	}
	return kOther, -1
}

func isNumber(k kind) bool { return k == kInt || k == kDecimal || k == kFloat }

func either(a, b, x, y kind) bool { return (a == x && b == y) || (a == y && b == x) }

// pair is one compared column: its name on both sides and how each side
// renders it.
type pair struct {
	Name     string
	Old, New column
	Kind     kind
	Scale    int
	// Hashed is false for a JSON or float column across two engines,
	// whose text forms differ (1e+20 and 1e20): it is left out of the
	// chunk checksums and compared by value in Go, every row fetched
	// (round: makes a float a decimal, hashed).
	Hashed bool
	// Native is true for a column of one type on two databases of one
	// engine: each side hashes and returns its own text form, which needs
	// no normalising.
	Native bool
}

func (p pair) String() string {
	return fmt.Sprintf("%s (%s/%s as %s)", p.Name, p.Old.Type, p.New.Type, p.Kind)
}
