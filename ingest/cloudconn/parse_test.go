package cloudconn

import (
	"errors"
	"strings"
	"testing"
)

// TestParseErrors feeds malformed values: each is a *ParseError naming the
// line and the column of the value, never a panic or a silent row.
func TestParseErrors(t *testing.T) {
	const prompt = "<dev> display cloud-management state\n"
	for _, tc := range []struct {
		name, in  string
		line, col int
		msg       string
	}{
		{"bad port", prompt + "Local port : 70000\n", 2, 14, "port"},
		{"zero port", prompt + "Cloud server authentication port : 0\n", 2, 36, "port"},
		{"bad time", prompt + "Connected at : yesterday\n", 2, 16, "time"},
		{"bad duration", prompt + "Duration : 2 minutes\n", 2, 12, "duration"},
		{"hours out of range", prompt + "Duration : 00d 24h 00m 00s\n", 2, 12, "out of range"},
		{"bad address", prompt + "Cloud server address : oasis\n", 2, 24, "address"},
		{"negative count", prompt + "Total dropped packets : -1\n", 2, 25, "count"},
		{"no device", "Cloud connection state : Established\n", 1, 1, "no device name"},
		{"invalid utf-8", prompt + "Device state : \xff\n", 2, 1, "UTF-8"},
		{"full-width colon column", prompt + "本地端口：x\n", 2, 6, "port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.in), Options{File: "in"})
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("want a *ParseError, got %v", err)
			}
			if pe.Line != tc.line || pe.Col != tc.col || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("got %v (line %d col %d), want line %d col %d mentioning %q", err, pe.Line, pe.Col, tc.line, tc.col, tc.msg)
			}
		})
	}
}

// TestParseCounts checks what is kept and counted rather than refused:
// unknown lines, values outside the lists (kept verbatim), the device
// option over the prompt, and records split by a repeated label.
func TestParseCounts(t *testing.T) {
	in := "garbage without colon\n<sw1> display cloud-management state\nCloud connection state : Established\n" +
		"Colour of the sky : blue\nProcess state : Thinking\nCloud connection state : unconnected\n"
	res, err := Parse(strings.NewReader(in), Options{File: "in", Device: "SN123"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 2 || res.Rows[0].Device != "SN123" || res.Rows[1].ConnState != "Unconnected" {
		t.Fatalf("rows: %+v", res.Rows)
	}
	if res.Rows[0].ProcessState != "Thinking" || len(res.UnknownValues) != 1 || res.UnknownValues[0].Line != 5 {
		t.Errorf("unknown value: %+v, row %q", res.UnknownValues, res.Rows[0].ProcessState)
	}
	if len(res.Unknown) != 2 || res.Unknown[0].Number != 1 || res.Unknown[1].Number != 4 || res.Lines != 6 {
		t.Errorf("unknown lines: %+v of %d", res.Unknown, res.Lines)
	}
}
