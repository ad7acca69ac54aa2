package logship

import (
	"bytes"
	"math"
	"strconv"
	"time"
)

// Readers of the numeric values found in logs. They take the value's bytes
// and allocate nothing on well-formed input.

// parseUint reads a non-negative decimal integer that fits an int64.
func parseUint(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		d := int64(c - '0')
		if c < '0' || c > '9' || n > (math.MaxInt64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// parseDecimal reads "123", "123.456" or ".5" into its integer part and its
// fraction in nanoseconds (digits past the ninth are dropped).
func parseDecimal(b []byte) (whole, nanos int64, ok bool) {
	dot := bytes.IndexByte(b, '.')
	if dot < 0 {
		whole, ok = parseUint(b)
		return whole, 0, ok
	}
	if dot > 0 {
		if whole, ok = parseUint(b[:dot]); !ok {
			return 0, 0, false
		}
	}
	frac := b[dot+1:]
	if len(frac) == 0 && dot == 0 {
		return 0, 0, false
	}
	scale := int64(1e8)
	for _, c := range frac {
		if c < '0' || c > '9' {
			return 0, 0, false
		}
		nanos += int64(c-'0') * scale
		scale /= 10
	}
	return whole, nanos, true
}

// parseSeconds reads a non-negative number of seconds ("0.123", "1e-3").
func parseSeconds(b []byte) (time.Duration, bool) {
	return parseScaled(b, time.Second)
}

// parseScaled reads a non-negative number of units.
func parseScaled(b []byte, unit time.Duration) (time.Duration, bool) {
	if whole, nanos, ok := parseDecimal(b); ok {
		if whole > math.MaxInt64/int64(unit) {
			return 0, false
		}
		return time.Duration(whole)*unit + time.Duration(nanos*int64(unit)/1e9), true
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f < 0 || f*float64(unit) >= math.MaxInt64 || f != f {
		return 0, false
	}
	return time.Duration(math.Round(f * float64(unit))), true
}

// parseDurationText reads a duration with a unit ("12ms", "1.5s") or a bare
// number of the given unit.
func parseDurationText(b []byte, unit time.Duration) (time.Duration, bool) {
	if len(b) > 0 && (b[len(b)-1] == 's' || b[len(b)-1] == 'm' || b[len(b)-1] == 'h') {
		d, err := time.ParseDuration(string(b))
		if err != nil || d < 0 {
			return 0, false
		}
		return d, true
	}
	return parseScaled(b, unit)
}

// lastUpstream returns the last time of an $upstream_response_time list:
// attempts are separated by ", " and internal redirects by " : ".
func lastUpstream(b []byte) []byte {
	if i := bytes.LastIndexAny(b, ",:"); i >= 0 {
		b = b[i+1:]
	}
	return bytes.TrimSpace(b)
}

// zoneCache remembers the location of the last UTC offset seen, so that a
// log written in one zone costs no allocation per line.
type zoneCache struct {
	offset int
	loc    *time.Location
}

func (z *zoneCache) get(offset int) *time.Location {
	if offset == 0 {
		return time.UTC
	}
	if z.loc == nil || z.offset != offset {
		z.offset, z.loc = offset, time.FixedZone("", offset)
	}
	return z.loc
}

// digits reads the n-digit decimal at b[i:].
func digits(b []byte, i, n int) (int, bool) {
	if i+n > len(b) {
		return 0, false
	}
	v := 0
	for _, c := range b[i : i+n] {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// parseTime reads nginx's $time_local ("10/Oct/2000:13:55:36 -0700"), an
// RFC 3339 time with 'T' or ' ' between date and time and optional
// fraction and zone ("2000-10-10 13:55:36,123", UTC when zoneless), or a
// Unix epoch number in seconds, milliseconds, microseconds or nanoseconds
// (told apart by size).
func parseTime(b []byte, z *zoneCache) (time.Time, bool) {
	switch {
	case len(b) >= 20 && b[2] == '/':
		return parseTimeLocal(b, z)
	case len(b) >= 19 && b[4] == '-':
		return parseRFC3339(b, z)
	}
	return parseEpoch(b)
}

// parseTimeLocal reads "02/Jan/2006:15:04:05 -0700".
func parseTimeLocal(b []byte, z *zoneCache) (time.Time, bool) {
	if len(b) != 26 || b[2] != '/' || b[6] != '/' || b[11] != ':' || b[20] != ' ' {
		return time.Time{}, false
	}
	day, ok1 := digits(b, 0, 2)
	month := monthOf(b[3:6])
	year, ok2 := digits(b, 7, 4)
	t, ok3 := clock(b[12:20])
	off, ok4 := zoneOffset(b[21:])
	if !ok1 || !ok2 || !ok3 || !ok4 || month == 0 || !validDate(year, month, day) {
		return time.Time{}, false
	}
	return time.Date(year, month, day, t.h, t.m, t.s, 0, z.get(off)), true
}

// parseRFC3339 reads "2006-01-02T15:04:05[.frac][Z|±hh:mm|±hhmm]".
func parseRFC3339(b []byte, z *zoneCache) (time.Time, bool) {
	year, ok1 := digits(b, 0, 4)
	month, ok2 := digits(b, 5, 2)
	day, ok3 := digits(b, 8, 2)
	if !ok1 || !ok2 || !ok3 || b[7] != '-' || (b[10] != 'T' && b[10] != ' ' && b[10] != 't') ||
		month < 1 || month > 12 || !validDate(year, time.Month(month), day) {
		return time.Time{}, false
	}
	t, ok := clock(b[11:19])
	if !ok {
		return time.Time{}, false
	}
	rest := b[19:]
	nanos := 0
	if len(rest) > 0 && (rest[0] == '.' || rest[0] == ',') {
		n := 1
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		if n == 1 {
			return time.Time{}, false
		}
		nanos, rest = fracNanos(rest[1:n]), rest[n:]
	}
	loc := time.UTC
	switch {
	case len(rest) == 0:
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
	default:
		off, ok := zoneOffset(rest)
		if !ok {
			return time.Time{}, false
		}
		loc = z.get(off)
	}
	return time.Date(year, time.Month(month), day, t.h, t.m, t.s, nanos, loc), true
}

type hms struct{ h, m, s int }

// clock reads "15:04:05".
func clock(b []byte) (hms, bool) {
	h, ok1 := digits(b, 0, 2)
	m, ok2 := digits(b, 3, 2)
	s, ok3 := digits(b, 6, 2)
	ok := ok1 && ok2 && ok3 && len(b) == 8 && b[2] == ':' && b[5] == ':' && h < 24 && m < 60 && s < 61
	return hms{h, m, s}, ok
}

// zoneOffset reads "+hhmm" or "+hh:mm" as seconds east of UTC.
func zoneOffset(b []byte) (int, bool) {
	if len(b) != 5 && len(b) != 6 || b[0] != '+' && b[0] != '-' {
		return 0, false
	}
	mi := 3
	if len(b) == 6 {
		if b[3] != ':' {
			return 0, false
		}
		mi = 4
	}
	h, ok1 := digits(b, 1, 2)
	m, ok2 := digits(b, mi, 2)
	if !ok1 || !ok2 || h > 23 || m > 59 {
		return 0, false
	}
	off := (h*60 + m) * 60
	if b[0] == '-' {
		off = -off
	}
	return off, true
}

// fracNanos reads the digits of a fraction of a second as nanoseconds.
func fracNanos(b []byte) int {
	n, scale := 0, int(1e8)
	for _, c := range b[:min(len(b), 9)] {
		n += int(c-'0') * scale
		scale /= 10
	}
	return n
}

func validDate(year int, month time.Month, day int) bool {
	if day < 1 || month < 1 || month > 12 {
		return false
	}
	days := [...]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[month-1]
	if month == time.February && year%4 == 0 && (year%100 != 0 || year%400 == 0) {
		days = 29
	}
	return day <= days
}

func monthOf(b []byte) time.Month {
	switch string(b) {
	case "Jan":
		return time.January
	case "Feb":
		return time.February
	case "Mar":
		return time.March
	case "Apr":
		return time.April
	case "May":
		return time.May
	case "Jun":
		return time.June
	case "Jul":
		return time.July
	case "Aug":
		return time.August
	case "Sep":
		return time.September
	case "Oct":
		return time.October
	case "Nov":
		return time.November
	case "Dec":
		return time.December
	}
	return 0
}

// parseEpoch reads a Unix time; the integer part's size tells the unit:
// up to 10 digits seconds, 13 milliseconds, 16 microseconds, 19
// nanoseconds.
func parseEpoch(b []byte) (time.Time, bool) {
	whole, nanos, ok := parseDecimal(b)
	if !ok {
		return time.Time{}, false
	}
	intLen := bytes.IndexByte(b, '.')
	if intLen < 0 {
		intLen = len(b)
	}
	switch {
	case intLen <= 10:
		return time.Unix(whole, nanos).UTC(), true
	case intLen <= 13:
		return time.UnixMilli(whole).Add(time.Duration(nanos / 1e3)).UTC(), true
	case intLen <= 16:
		return time.UnixMicro(whole).Add(time.Duration(nanos / 1e6)).UTC(), true
	}
	return time.Unix(0, whole).UTC(), true
}
