package schema_test

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/flowlake/flowlake/storage/schema"
)

var update = flag.Bool("update", false, "rewrite docs/schema.md from schema.Markdown()")

const schemaDoc = "../../docs/schema.md"

// TestMarkdownGolden keeps docs/schema.md equal to schema.Markdown(); run
// `make docs` (go test ./storage/schema -run TestMarkdownGolden -update)
// after changing a struct tag.
func TestMarkdownGolden(t *testing.T) {
	got := schema.Markdown()
	if *update {
		if err := os.WriteFile(schemaDoc, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(schemaDoc)
	if err != nil {
		t.Fatalf("%v (run `make docs` to generate it)", err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gl), len(wl)) {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s is stale (run `make docs`); first difference at line %d:\n  file: %q\n  want: %q", schemaDoc, i+1, w, g)
			}
		}
	}
}

// TestMarkdownCoversEveryColumn checks that the rendered page names every
// dataset, every column and every code list entry.
func TestMarkdownCoversEveryColumn(t *testing.T) {
	md := schema.Markdown()
	must := []string{"`" + schema.MetaFormatVersion + "`", "`" + schema.MetaDataset + "`", "`" + schema.MetaSource + "`",
		"`" + schema.MetaMinTime + "`", "`" + schema.MetaMaxTime + "`", "**" + schema.FormatVersion + "**"}
	for _, d := range schema.All() {
		must = append(must, "\n## "+d.Name+"\n")
		for _, c := range d.Columns {
			must = append(must, "| `"+c.Name+"` |")
		}
	}
	for _, r := range schema.TCPReasons() {
		must = append(must, "| `"+r+"` | ")
	}
	for _, s := range [][]string{schema.CloudDeviceStates(), schema.CloudDownReasons(), schema.CloudFailureReasons(),
		{schema.CloudUnconnected, schema.CloudRequest, schema.CloudEstablished}, schema.LeaseEndReasons(),
		{schema.DHCPDiscover, schema.DHCPOffer, schema.DHCPRequest, schema.DHCPDecline, schema.DHCPAck, schema.DHCPNak, schema.DHCPRelease, schema.DHCPInform}} {
		for _, v := range s {
			must = append(must, "`"+v+"`")
		}
	}
	for _, s := range must {
		if !strings.Contains(md, s) {
			t.Errorf("schema.Markdown() lacks %q", s)
		}
	}
	// A code without a meaning renders as an empty cell.
	if strings.Contains(md, "|  |  |") {
		t.Errorf("schema.Markdown() has a code list row without a name and meaning")
	}
}
