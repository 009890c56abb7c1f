package reports

import (
	"context"
	"testing"
)

func TestSmoke(t *testing.T) {
	eng := testEngine(t)
	p := testPeriod(t)
	for _, typ := range Types() {
		def := Definition{Type: typ}
		if typ == TypeCustom {
			def.Query = &CustomQuery{}
			def.Query.Query.Dataset = "flows"
			def.Query.Query.GroupBy = []string{"proto"}
			def.Query.Query.Metrics = []string{"sum(bytes)"}
		}
		doc, err := Build(context.Background(), eng, def, p)
		if err != nil {
			t.Errorf("%s: %v", typ, err)
			continue
		}
		t.Logf("%s: %d sections, warnings %v", typ, len(doc.Sections), doc.Warnings)
		for _, s := range doc.Sections {
			t.Logf("  %s: text %q figs %d tables %d charts %d", s.Title, s.Text, len(s.Figures), len(s.Tables), len(s.Charts))
			for _, tb := range s.Tables {
				if len(tb.Rows) > 0 {
					t.Logf("    %s (%d rows) first %v", tb.Title, len(tb.Rows), tb.Rows[0])
				}
			}
		}
	}
}
