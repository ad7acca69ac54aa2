package datacheck

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// dialect is what differs between the engines: quoting, placeholders,
// the catalog and the SQL of a canonical text and a checksum. Identifiers
// reach SQL through quote only.
type dialect interface {
	engine() string
	quote(ident string) string
	placeholder(i int) string // i from 1
	// canon is the SQL of the canonical text of col (quoted) of kind own
	// rendered as kind k with scale.
	canon(col string, own, k kind, scale int) string
	// order is the SQL a key column of kind k is ordered and compared by:
	// byte order for text on both engines.
	order(col string, k kind) string
	// rowText joins canonical texts, with NULL as its own marker.
	rowText(canons []string) string
	// native is the SQL of col's own text form, for a column of the same
	// type on two databases of the same engine.
	native(col string) string
	// checksum is the SELECT list of a chunk's count and checksum (an
	// XOR of each row's hash) over text: 64 bits of MD5, the same on every
	// engine, or with fast the engine's own quicker hash.
	checksum(text string, fast bool) string
	// checksumRecord is checksum over a record of exprs hashed by their
	// types' own hash functions (no text made), or "" where the engine
	// has none.
	checksumRecord(exprs []string) string
	columnsSQL() string
	keysSQL() string
	tablesSQL() string
}

// The canonical text's separators: rare in data, and no text maps to
// another by moving one (the hash is a checksum, not a proof).
const (
	sepChar  = 31 // unit separator, between columns
	nullChar = 30 // record separator, alone, for NULL
)

type postgres struct{}

func (postgres) engine() string { return "postgres" }

func (postgres) quote(ident string) string { return pgx.Identifier{ident}.Sanitize() }

func (postgres) placeholder(i int) string { return fmt.Sprintf("$%d", i) }

const pgTimestamp = `'YYYY-MM-DD"T"HH24:MI:SS.US'`

func (postgres) canon(c string, own, k kind, scale int) string {
	switch k {
	case kDecimal:
		if scale < 0 {
			return c + "::numeric::text"
		}
		return fmt.Sprintf("round(%s::numeric, %d)::text", c, scale)
	case kBool:
		if own == kBool {
			return fmt.Sprintf("CASE WHEN %s THEN '1' WHEN NOT %s THEN '0' END", c, c)
		}
		return fmt.Sprintf("CASE WHEN %s <> 0 THEN '1' WHEN %s = 0 THEN '0' END", c, c)
	case kTimestamp:
		if own == kTimestampTZ {
			return fmt.Sprintf("to_char(%s AT TIME ZONE 'UTC', %s)", c, pgTimestamp)
		}
		return fmt.Sprintf("to_char(%s, %s)", c, pgTimestamp)
	case kDate:
		return fmt.Sprintf("to_char(%s, 'YYYY-MM-DD')", c)
	case kBytes:
		return fmt.Sprintf("encode(%s, 'hex')", c)
	case kJSON:
		if own == kJSON {
			return c + "::jsonb::text"
		}
	case kUUID:
		return "lower(" + c + "::text)"
	}
	return c + "::text"
}

// checksumRecord uses hash_record_extended (PostgreSQL 14+), stable
// across versions as hash partitioning needs it to be.
func (postgres) checksumRecord(exprs []string) string {
	return fmt.Sprintf("count(*), coalesce(bit_xor(hash_record_extended(ROW(%s), 0)), 0)", strings.Join(exprs, ", "))
}

// pgHashable tells whether a column's type has a hash function of its
// own (json and the types datacheck does not know are hashed as text).
func pgHashable(c column) bool { return c.Kind != kOther && c.Type != "json" }

func (postgres) order(c string, k kind) string {
	if k == kText {
		return c + ` COLLATE "C"`
	}
	return c
}

func (postgres) rowText(canons []string) string {
	parts := make([]string, len(canons))
	for i, c := range canons {
		parts[i] = fmt.Sprintf("coalesce(%s, chr(%d))", c, nullChar)
	}
	return "(" + strings.Join(parts, fmt.Sprintf(" || chr(%d) || ", sepChar)) + ")"
}

func (postgres) native(c string) string { return c + "::text" }

func (postgres) checksum(text string, fast bool) string {
	if fast {
		return fmt.Sprintf("count(*), coalesce(bit_xor(hashtextextended(%s, 0)), 0)", text)
	}
	return fmt.Sprintf("count(*), coalesce(bit_xor(('x' || substr(md5(%s), 1, 16))::bit(64)::bigint), 0)", text)
}

func (postgres) columnsSQL() string {
	return `SELECT column_name, data_type, coalesce(numeric_scale, -1)
FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = $1
ORDER BY ordinal_position`
}

// keysSQL lists the primary and unique indexes of a table, without
// expressions or predicates: index, primary, column, NOT NULL.
func (postgres) keysSQL() string {
	return `SELECT i.indexrelid::regclass::text, i.indisprimary, a.attname, a.attnotnull
FROM pg_index i
CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = to_regclass(format('%I.%I', current_schema(), $1::text))
  AND (i.indisprimary OR i.indisunique) AND i.indpred IS NULL AND i.indexprs IS NULL
ORDER BY i.indisprimary DESC, i.indexrelid, k.ord`
}

func (postgres) tablesSQL() string {
	return `SELECT table_name FROM information_schema.tables
WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`
}

// pgKind maps information_schema.columns.data_type.
func pgKind(dataType string) kind {
	switch dataType {
	case "smallint", "integer", "bigint":
		return kInt
	case "numeric":
		return kDecimal
	case "real", "double precision":
		return kFloat
	case "boolean":
		return kBool
	case "text", "character varying", "character":
		return kText
	case "timestamp without time zone":
		return kTimestamp
	case "timestamp with time zone":
		return kTimestampTZ
	case "date":
		return kDate
	case "bytea":
		return kBytes
	case "json", "jsonb":
		return kJSON
	case "uuid":
		return kUUID
	}
	return kOther
}
