package cloudconn

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/flowlake/flowlake/storage/schema"
)

// maxLine bounds one input line; the display's lines are under 100 bytes.
const maxLine = 64 << 10

// TimeLayout is how the display prints a time ("Wed Jan 27 14:18:40
// 2018"), in the device's local zone. The weekday is read for its form
// and otherwise ignored (the documents' own sample names the wrong one).
const TimeLayout = "Mon Jan _2 15:04:05 2006"

// Options says how Parse names and places what it reads.
type Options struct {
	// File names the input in errors ("file:line:col: …").
	File string
	// Device fills the rows' device column; when empty, the sysname of the
	// output's prompt ("<Sysname> display cloud-management state") does.
	Device string
	// Edge fills the rows' edge column: who collected the output.
	Edge string
	// Observed fills the rows' time column: the display prints no time of
	// its own. Zero means time.Now.
	Observed time.Time
	// Location is the zone the device's clock keeps; nil means UTC.
	Location *time.Location
}

// Line is an input line Parse kept: Number is 1-based.
type Line struct {
	Number int    `json:"line"`
	Text   string `json:"text"`
}

// Value is an enumerated value outside the documents' lists, kept
// verbatim in its row and listed here.
type Value struct {
	Line  int    `json:"line"`
	Field string `json:"field"`
	Value string `json:"value"`
}

// Result is what Parse read from one input.
type Result struct {
	// Rows holds one row per display found.
	Rows []schema.CloudConn
	// Unknown holds the non-blank lines Parse did not recognise, in order.
	Unknown []Line
	// UnknownValues holds the enumerated values outside the lists.
	UnknownValues []Value
	// Lines counts the lines read.
	Lines int
}

// ParseError is a malformed value: where it is and why.
type ParseError struct {
	File string
	Line int
	Col  int
	Msg  string
}

// Error formats the error as "file:line:col: msg", the form editors jump to.
func (e *ParseError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// promptRE matches the prompt line of the command: "<Sysname> display
// cloud-management state" or "[Device] display …".
var promptRE = regexp.MustCompile(`^\s*[<\[]([^>\]\s]{1,64})[>\]]\s*(?:dis|disp|displ|displa|display)\s+cloud-management\s+state\s*$`)

var (
	durationRE   = regexp.MustCompile(`^(\d+)d\s*(\d+)h\s*(\d+)m\s*(\d+)s$`)
	durationZhRE = regexp.MustCompile(`^(\d+)\s*天\s*(\d+)\s*时\s*(\d+)\s*分\s*(\d+)\s*秒$`)
	detailRE     = regexp.MustCompile(`^(.*?)\s*[(（]\s*(?:Details|详细信息)\s*[:：]\s*(.*?)\s*[)）]$`)
)

// record is the display being read.
type record struct {
	row    schema.CloudConn
	seen   [numFields]bool
	any    bool
	line   int
	device string
}

type parser struct {
	opt  Options
	res  Result
	cur  record
	line int
}

// Parse reads `display cloud-management state` output from r. See the
// package doc and docs/tunnel.md for what it accepts.
func Parse(r io.Reader, opt Options) (*Result, error) {
	if opt.Location == nil {
		opt.Location = time.UTC
	}
	if opt.Observed.IsZero() {
		opt.Observed = time.Now()
	}
	p := &parser{opt: opt}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	for sc.Scan() {
		p.line++
		if err := p.readLine(sc.Text()); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, &ParseError{File: opt.File, Line: p.line + 1, Col: 1, Msg: fmt.Sprintf("line longer than %d bytes", maxLine)}
		}
		return nil, fmt.Errorf("read %s: %w", opt.File, err)
	}
	if err := p.flush(); err != nil {
		return nil, err
	}
	p.res.Lines = p.line
	return &p.res, nil
}

func (p *parser) errorf(col int, format string, args ...any) error {
	return &ParseError{File: p.opt.File, Line: p.line, Col: col, Msg: fmt.Sprintf(format, args...)}
}

// readLine reads one line: a prompt, a field, a blank line or an unknown.
func (p *parser) readLine(raw string) error {
	if !utf8.ValidString(raw) {
		return p.errorf(1, "line is not valid UTF-8")
	}
	text := strings.Map(func(r rune) rune {
		if r == '\u00a0' || r == '\t' || r == '\u3000' {
			return ' '
		}
		return r
	}, raw)
	if strings.TrimSpace(text) == "" {
		return nil
	}
	if m := promptRE.FindStringSubmatch(text); m != nil {
		if err := p.flush(); err != nil {
			return err
		}
		p.cur.device = m[1]
		p.cur.line = p.line
		return nil
	}
	label, value, col, ok := splitField(text)
	if !ok {
		p.unknown(raw)
		return nil
	}
	f, known := labels[labelKey(label)]
	if !known {
		p.unknown(raw)
		return nil
	}
	if p.cur.seen[f] || f == fLocalPort && p.cur.seen[fConnPort] || f == fConnPort && p.cur.seen[fLocalPort] {
		// A second display without a prompt between: a new record.
		device := p.cur.device
		if err := p.flush(); err != nil {
			return err
		}
		p.cur.device = device
	}
	if !p.cur.any && p.cur.line == 0 {
		p.cur.line = p.line
	}
	p.cur.seen[f] = true
	p.cur.any = true
	return p.setField(f, value, col)
}

func (p *parser) unknown(raw string) {
	p.res.Unknown = append(p.res.Unknown, Line{Number: p.line, Text: raw})
}

// splitField splits "label : value" at its first colon (ASCII or
// full-width); col is the 1-based rune column of the value.
func splitField(text string) (label, value string, col int, ok bool) {
	i := strings.IndexAny(text, ":：")
	if i < 0 {
		return "", "", 0, false
	}
	_, w := utf8.DecodeRuneInString(text[i:])
	label = strings.TrimSpace(text[:i])
	rest := text[i+w:]
	value = strings.TrimSpace(rest)
	lead := len(rest) - len(strings.TrimLeft(rest, " "))
	col = utf8.RuneCountInString(text[:i+w+lead]) + 1
	return label, value, col, label != ""
}

// flush ends the record being read and appends its row.
func (p *parser) flush() error {
	cur := p.cur
	p.cur = record{}
	if !cur.any {
		return nil
	}
	row := cur.row
	row.Device = p.opt.Device
	if row.Device == "" {
		row.Device = cur.device
	}
	if row.Device == "" {
		return &ParseError{File: p.opt.File, Line: cur.line, Col: 1,
			Msg: "no device name for this display: the output has no prompt (<Sysname> display cloud-management state) and none was given (--device)"}
	}
	row.Edge = p.opt.Edge
	row.Time = schema.Micros(p.opt.Observed)
	p.res.Rows = append(p.res.Rows, row)
	return nil
}

// setField parses value into the field f of the current row.
func (p *parser) setField(f field, value string, col int) error {
	row := &p.cur.row
	var err error
	switch f {
	case fConnState:
		row.ConnState = p.enum(connStates, value)
	case fDeviceState:
		row.DeviceState = p.enum(deviceStates, value)
	case fProcessState:
		row.ProcessState = p.enum(processStates, value)
	case fServerAddr:
		if value != NA && value != "" {
			if row.ServerAddr, err = schema.ParseAddr(value); err != nil {
				return p.errorf(col, "cloud server address %q: not an IPv4 or IPv6 address", value)
			}
		}
	case fDomain:
		row.ServerDomain = na(value)
	case fMode:
		row.ConnMode = na(value)
	case fAuthPort:
		row.AuthPort, err = p.port(value, col)
	case fConnPort, fLocalPort:
		row.ConnPort, err = p.port(value, col)
	case fConnectedAt:
		row.ConnectedAt, err = p.time(value, col)
	case fDownAt:
		row.LastDownAt, err = p.time(value, col)
	case fReportFailureAt:
		row.LastReportFailureAt, err = p.time(value, col)
	case fIncompleteAt:
		row.LastReportIncompleteAt, err = p.time(value, col)
	case fDuration:
		row.DurationS, err = p.duration(value, col)
	case fFailure:
		row.FailureReason = p.reason(failureReasons, value)
	case fDownReason:
		reason, detail := splitDetail(value)
		row.LastDownReason, row.LastDownDetail = p.reason(downReasons, reason), na(detail)
	case fReportFailure:
		reason, detail := splitDetail(value)
		row.LastReportFailureReason = p.reason(reportFailureReasons, reason)
		if d := na(detail); d != "" && row.LastReportFailureReason != "" {
			// No column holds it (docs/tunnel.md): kept in the reason.
			row.LastReportFailureReason += " (Details:" + d + ")"
		}
	case fIncomplete:
		row.LastReportIncompleteReason = p.reason(incompleteReasons, value)
	case fDroppedBufferLimit:
		row.DroppedBufferLimit, err = p.count(value, col)
	case fDroppedTotal:
		row.DroppedTotal, err = p.count(value, col)
	case fBufferFull:
		row.BufferFullCount, err = p.count(value, col)
	}
	return err
}

// na returns "" for the display's N/A.
func na(v string) string {
	if strings.EqualFold(v, NA) {
		return ""
	}
	return v
}

// splitDetail splits "reason (Details:detail)".
func splitDetail(v string) (reason, detail string) {
	if m := detailRE.FindStringSubmatch(v); m != nil {
		return m[1], m[2]
	}
	return v, ""
}

// enum returns the canonical spelling of an enumerated value, counting
// one outside the list.
func (p *parser) enum(e enum, v string) string {
	c, ok := e.canonical(v)
	if !ok {
		p.res.UnknownValues = append(p.res.UnknownValues, Value{Line: p.line, Field: e.name, Value: v})
	}
	return c
}

// reason is enum for a reason, where N/A (or nothing) means none.
func (p *parser) reason(e enum, v string) string {
	if na(v) == "" {
		return ""
	}
	return p.enum(e, v)
}

func (p *parser) port(v string, col int) (uint16, error) {
	if na(v) == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 16)
	if err != nil || n == 0 {
		return 0, p.errorf(col, "port %q: want 1-65535", v)
	}
	return uint16(n), nil
}

func (p *parser) count(v string, col int) (uint64, error) {
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, p.errorf(col, "count %q: want a non-negative integer", v)
	}
	return n, nil
}

func (p *parser) time(v string, col int) (int64, error) {
	if na(v) == "" {
		return 0, nil
	}
	t, err := time.ParseInLocation(TimeLayout, strings.Join(strings.Fields(v), " "), p.opt.Location)
	if err != nil {
		return 0, p.errorf(col, "time %q: want the form %q", v, "Wed Jan 27 14:18:40 2018")
	}
	return schema.Micros(t), nil
}

func (p *parser) duration(v string, col int) (uint32, error) {
	if na(v) == "" {
		return 0, nil
	}
	m := durationRE.FindStringSubmatch(v)
	if m == nil {
		m = durationZhRE.FindStringSubmatch(v)
	}
	if m == nil {
		return 0, p.errorf(col, "duration %q: want the form 00d 00h 02m 01s", v)
	}
	var total uint64
	for i, mult := range []uint64{86400, 3600, 60, 1} {
		n, err := strconv.ParseUint(m[i+1], 10, 32)
		if err != nil || i > 0 && n >= []uint64{0, 24, 60, 60}[i] {
			return 0, p.errorf(col, "duration %q: component %q out of range", v, m[i+1])
		}
		total += n * mult
	}
	if total > 1<<32-1 {
		return 0, p.errorf(col, "duration %q: longer than %d s", v, uint64(1<<32-1))
	}
	return uint32(total), nil
}
