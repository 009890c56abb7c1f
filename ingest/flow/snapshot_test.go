package flow

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	ft "github.com/flowlake/flowlake/ingest/flow/flowtest"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func TestTemplatePersistence(t *testing.T) {
	ipfixOpt := ft.Set(3, ft.IPFIXOptionsTemplateRecord(300, []ft.Field{{ID: 302, Length: 1}}, ft.Field{ID: 305, Length: 4}, ft.Field{ID: 306, Length: 4}, ft.Field{ID: 160, Length: 8}))
	ipfixOptData := ft.Set(300, ft.BE64(ft.BE32(ft.BE32([]byte{5}, 1), 31), startMs-3600_000))
	v9Opt := ft.Set(1, ft.V9OptionsTemplateRecord(257, []ft.Field{{ID: 1, Length: 4}}, ft.Field{ID: 48, Length: 1}, ft.Field{ID: 34, Length: 4}))
	v9OptData := ft.Set(257, ft.BE32(append(ft.BE32(nil, 0), 2), 128))
	v9Tmpl := ft.Set(0, ft.TemplateRecord(260, ft.Field{ID: 27, Length: 16}, ft.Field{ID: 28, Length: 16}, ft.Field{ID: 1, Length: 4}, ft.Field{ID: 2, Length: 4}, ft.Field{ID: 48, Length: 1}, ft.Field{ID: 22, Length: 4}, ft.Field{ID: 21, Length: 4}))
	enterprise := ft.Set(2, ft.TemplateRecord(270, ft.Field{ID: 8, Length: 4}, ft.Field{ID: 12, Length: 4}, ft.Field{ID: 1000, Length: 2, PEN: 29305}, ft.Field{ID: 1, Length: 4}))
	v6 := []byte{0x20, 0x01, 0x0d, 0xb8, 15: 1}
	v6b := []byte{0x20, 0x01, 0x0d, 0xb8, 15: 2}
	v9Data := ft.Set(260, ft.BE32(ft.BE32(append(ft.BE32(ft.BE32(append(append([]byte{}, v6...), v6b...), 700), 7), 2), 50000), 59000))
	ipfixData := ft.Set(256, ipfixRec([4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}, 1000, 53, 17, 80, 1, startMs, 10, 5))
	entData := ft.Set(270, ft.BE32(ft.BE16(append([]byte{10, 9, 9, 9}, 10, 8, 8, 8), 7), 64))

	a := mustDecoder(t, DefaultConfig())
	if _, err := decodeAll(t, a, exporterA, ft.IPFIXMessage(exportT, 0, 1, ft.Set(2, ipfixTmpl), enterprise, ipfixOpt, ipfixOptData)); err != nil {
		t.Fatal(err)
	}
	if _, err := decodeAll(t, a, exporterB, ft.V9Packet(60000, exportT, 0, 3, v9Tmpl, v9Opt, v9OptData)); err != nil {
		t.Fatal(err)
	}
	snap, err := a.MarshalTemplates()
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "templates.golden.json")
	if *update {
		if err := os.WriteFile(golden, snap, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if diff := cmp.Diff(string(want), string(snap)); diff != "" {
		t.Errorf("snapshot differs from %s (-want +got):\n%s", golden, diff)
	}

	// A restarted edge restores the snapshot and decodes data-only datagrams
	// exactly as the decoder that saw the templates.
	b := mustDecoder(t, DefaultConfig())
	n, err := b.UnmarshalTemplates(snap)
	if err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Errorf("restored %d templates, want 5", n)
	}
	data := [][]byte{ft.IPFIXMessage(exportT, 3, 1, ipfixData, entData)}
	v9 := [][]byte{ft.V9Packet(60000, exportT, 1, 3, v9Data)}
	wantRows, _ := decodeAll(t, a, exporterA, data...)
	wantV9, _ := decodeAll(t, a, exporterB, v9...)
	gotRows, err := decodeAll(t, b, exporterA, data...)
	if err != nil {
		t.Fatal(err)
	}
	gotV9, err := decodeAll(t, b, exporterB, v9...)
	if err != nil {
		t.Fatal(err)
	}
	if len(wantRows) != 2 || len(wantV9) != 1 {
		t.Fatalf("reference decoder produced %d+%d rows, want 2+1", len(wantRows), len(wantV9))
	}
	if diff := cmp.Diff(append(wantRows, wantV9...), append(gotRows, gotV9...)); diff != "" {
		t.Errorf("rows after restore (-before restart +after):\n%s", diff)
	}
	if wantRows[0].SamplingRate != 32 || wantV9[0].SamplingRate != 128 {
		t.Errorf("sampling rates %d, %d; want 32 and 128", wantRows[0].SamplingRate, wantV9[0].SamplingRate)
	}
	again, err := b.MarshalTemplates()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, snap) {
		t.Errorf("re-marshalled snapshot differs:\n%s", again)
	}
	if c := b.Counters().Snapshot(); c.TemplateMisses != 0 {
		t.Errorf("%d template misses after restore", c.TemplateMisses)
	}
}

func TestUnmarshalTemplatesErrors(t *testing.T) {
	tests := []struct {
		name, snap, contains string
	}{
		{"not json", `{`, "unexpected end"},
		{"version", `{"version":2,"domains":[]}`, "snapshot version 2"},
		{"bad exporter", `{"version":1,"domains":[{"exporter":"x","format":"ipfix","domain":1,"templates":[]}]}`, "exporter"},
		{"bad format", `{"version":1,"domains":[{"exporter":"192.0.2.1","format":"sflow","domain":1,"templates":[]}]}`, "not netflow9 or ipfix"},
		{"duplicate domain", `{"version":1,"domains":[{"exporter":"192.0.2.1","format":"ipfix","domain":1,"templates":[]},{"exporter":"192.0.2.1","format":"ipfix","domain":1,"templates":[]}]}`, "listed twice"},
		{"reserved id", `{"version":1,"domains":[{"exporter":"192.0.2.1","format":"ipfix","domain":1,"templates":[{"id":5,"fields":[{"type":8,"length":4}]}]}]}`, "reserved"},
		{"bad length", `{"version":1,"domains":[{"exporter":"192.0.2.1","format":"ipfix","domain":1,"templates":[{"id":256,"fields":[{"type":8,"length":3}]}]}]}`, "does not fit"},
		{"duplicate template", `{"version":1,"domains":[{"exporter":"192.0.2.1","format":"ipfix","domain":1,"templates":[{"id":256,"fields":[{"type":8,"length":4}]},{"id":256,"fields":[{"type":8,"length":4}]}]}]}`, "template 256 listed twice"},
		{"scopes on data template", `{"version":1,"domains":[{"exporter":"192.0.2.1","format":"ipfix","domain":1,"templates":[{"id":256,"scopes":[{"type":1,"length":4}],"fields":[{"type":8,"length":4}]}]}]}`, "has scope fields"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := mustDecoder(t, DefaultConfig())
			_, err := d.UnmarshalTemplates([]byte(tc.snap))
			if err == nil || !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("error %v, want one containing %q", err, tc.contains)
			}
			if s, _ := d.MarshalTemplates(); strings.Contains(string(s), "192.0.2.1") {
				t.Errorf("a failed restore left state behind: %s", s)
			}
		})
	}
}
