package reports

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDefinitionValidate(t *testing.T) {
	link := []Link{{Name: "uplink", Interfaces: []Interface{{Device: "r1", Name: "ge-0/0/0"}}, CapacityBPS: 1e9}}
	tests := []struct {
		name string
		def  Definition
		want []string // substrings of the error; none means valid
	}{
		{"defaults are valid", Definition{Type: TypeLink, Links: link}, nil},
		{"every type is valid", Definition{Type: "Summary"}, nil},
		{"unknown type lists the known and suggests", Definition{Type: "lnk"},
			[]string{`report type "lnk": unknown; known types: link, forecast, network, topn, apps, response, baseline, faults, summary, custom; did you mean "link"?`}},
		{"unknown type far from any", Definition{Type: "weather"}, []string{`report type "weather": unknown; known types: link`}},
		{"unknown section", Definition{Type: TypeLink, Sections: []string{"trends"}},
			[]string{`sections: "trends" is not a section of link reports; known: summary, trend, detail; did you mean "trend"?`}},
		{"unknown zone", Definition{Type: TypeLink, Zone: "Mars/Olympus"}, []string{`zone: time zone "Mars/Olympus": not an IANA time zone name`}},
		{"bad sizes, all at once", Definition{Type: TypeLink, N: -1, Threshold: 1.5, BaselineWeeks: 99},
			[]string{"n -1: must be between 1 and 1000", "threshold 1.5", "baseline_weeks 99"}},
		{"bad links", Definition{Type: TypeLink, Links: []Link{{Name: "a"}, {Name: "a", Interfaces: []Interface{{}}, CapacityBPS: -1}}},
			[]string{`links[0] "a": a link needs at least one interface`, `links[1] "a": the name is used twice`,
				`links[1] "a": interfaces[0]: the interface name is empty`, `links[1] "a": capacity_bps -1`}},
		{"custom without a query", Definition{Type: TypeCustom}, []string{"query: a custom report needs a saved query"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.def.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nwant it to contain %q", err, w)
				}
			}
		})
	}
}

// TestDefinitionJSON reads the definition docs/reports.md shows, as a
// schedule stores it.
func TestDefinitionJSON(t *testing.T) {
	const doc = `{
	  "type": "link", "title": "WAN links", "sections": ["summary", "detail"], "n": 5,
	  "links": [{"name": "Internet", "interfaces": [{"device": "hq-r1", "name": "ge-0/0/0"}, {"name": "ge-0/0/1"}], "capacity_bps": 1e9}],
	  "threshold": 0.75, "zone": "Asia/Shanghai", "base_url": "https://flowlake.example.com",
	  "query": {"query": {"dataset": "flows", "group_by": ["time/1h", "app"], "metrics": ["bps()"]}, "chart": 2}
	}`
	var def Definition
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&def); err != nil {
		t.Fatal(err)
	}
	if err := def.Validate(); err != nil {
		t.Fatal(err)
	}
	want := Definition{Type: "link", Title: "WAN links", Sections: []string{"summary", "detail"}, N: 5,
		Links:     []Link{{Name: "Internet", Interfaces: []Interface{{Device: "hq-r1", Name: "ge-0/0/0"}, {Name: "ge-0/0/1"}}, CapacityBPS: 1e9}},
		Threshold: 0.75, Zone: "Asia/Shanghai", BaseURL: "https://flowlake.example.com",
		Query: &CustomQuery{Chart: ChartStacked}}
	want.Query.Query.Dataset = "flows"
	want.Query.Query.GroupBy = []string{"time/1h", "app"}
	want.Query.Query.Metrics = []string{"bps()"}
	got, _ := json.Marshal(def)
	exp, _ := json.Marshal(want)
	if string(got) != string(exp) {
		t.Errorf("decoded %s\nwant    %s", got, exp)
	}
}
