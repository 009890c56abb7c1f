package tcptrace

import (
	"strings"
	"time"
)

// months maps the month names the device prints, abbreviated ("Sep") in
// verbose blocks and in full ("July") in the connection table, to months.
var months = func() map[string]time.Month {
	m := make(map[string]time.Month, 24)
	for mo := time.January; mo <= time.December; mo++ {
		m[strings.ToLower(mo.String())] = mo
		m[strings.ToLower(mo.String()[:3])] = mo
	}
	m["sept"] = time.September
	return m
}()

// devTime reads a device timestamp from the scanner: "Sep 18 15:38:58:503
// 2019" (milliseconds after the third colon; optional) when the clock
// comes first, the form of verbose blocks. The device prints no zone: loc
// says which one its clock keeps.
func (sc *scanner) devTime(loc *time.Location, what string) time.Time {
	if sc.err != "" {
		return time.Time{}
	}
	mon, off := sc.word(",")
	mo, ok := months[strings.ToLower(mon)]
	if !ok {
		sc.fail(off, "%s: want a month name, found %q", what, clip(mon))
		return time.Time{}
	}
	day := sc.uint(8, what+" day")
	h, mi, s, ms := sc.clock(what)
	year := sc.uint(16, what+" year")
	return mkTime(sc, off, int(year), mo, int(day), h, mi, s, ms, loc, what)
}

// clock reads hh:mm:ss with optional :mmm milliseconds.
func (sc *scanner) clock(what string) (h, mi, s, ms int) {
	sc.skipSpace()
	start := sc.pos
	h = int(sc.uint(8, what+" hour"))
	sc.lit(":")
	mi = int(sc.uint(8, what+" minute"))
	sc.lit(":")
	s = int(sc.uint(8, what+" second"))
	if sc.err == "" && sc.pos < len(sc.s) && sc.s[sc.pos] == ':' {
		sc.pos++
		ms = int(sc.uint(16, what+" millisecond"))
	}
	if sc.err == "" && (h > 23 || mi > 59 || s > 59 || ms > 999) {
		sc.fail(start, "%s: %s is not a valid time of day", what, sc.s[start:sc.pos])
	}
	return h, mi, s, ms
}

// date reads the table's "July 1 2019" date line.
func (sc *scanner) date(what string) (y int, mo time.Month, d int, off int) {
	mon, off := sc.word("")
	mo, ok := months[strings.ToLower(mon)]
	if !ok {
		sc.fail(off, "%s: want a month name, found %q", what, clip(mon))
		return 0, 0, 0, off
	}
	d = int(sc.uint(8, what+" day"))
	y = int(sc.uint(16, what+" year"))
	return y, mo, d, off
}

// mkTime builds the time, refusing values time.Date would silently
// normalize (February 30, 25:00).
func mkTime(sc *scanner, off, year int, mo time.Month, day, h, mi, s, ms int, loc *time.Location, what string) time.Time {
	if sc.err != "" {
		return time.Time{}
	}
	t := time.Date(year, mo, day, h, mi, s, ms*int(time.Millisecond), loc)
	if t.Day() != day || t.Hour() != h || t.Minute() != mi || t.Second() != s || ms > 999 || t.Month() != mo {
		sc.fail(off, "%s: %s %d %02d:%02d:%02d.%03d %d is not a valid time", what, mo, day, h, mi, s, ms, year)
		return time.Time{}
	}
	return t
}
