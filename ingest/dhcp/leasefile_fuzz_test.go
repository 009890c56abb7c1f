package dhcp

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/flowlake/flowlake/storage/schema"
)

// addLeaseSeeds adds the samples under testdata/leases whose name has the
// given suffix (the seed corpus: hand-written from Kea's and dnsmasq's
// documented formats) to f.
func addLeaseSeeds(f *testing.F, suffix string) {
	f.Helper()
	paths, err := filepath.Glob(filepath.Join(leaseSamples, "*"+suffix))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no seeds %s*%s: %v", leaseSamples, suffix, err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// checkLeaseFile: a parser returns a *LeaseFileError or events in time
// order that a tracker accepts without panicking.
func checkLeaseFile(t *testing.T, lf *LeaseFile, err error) {
	if err != nil {
		var le *LeaseFileError
		if !errors.As(err, &le) || le.Line < 1 {
			t.Fatalf("error %v (%T) is not a *LeaseFileError with a line", err, err)
		}
		return
	}
	tr := NewLeaseTracker(schema.LeaseSourceKeaCSV, "fuzz")
	var out []schema.DHCPLease
	for i := range lf.Events {
		if i > 0 && lf.Events[i].Time < lf.Events[i-1].Time {
			t.Fatalf("event %d out of time order", i)
		}
		out = tr.Observe(&lf.Events[i], out)
	}
	out = tr.Advance(Forever, out)
	for _, r := range out {
		if r.EndTime < r.Time {
			t.Fatalf("span ends before it starts: %+v", r)
		}
	}
	if tr.Len() != 0 && tr.Counters.Ended == nil {
		t.Fatal("counters lost")
	}
}

func FuzzParseKeaCSV(f *testing.F) {
	addLeaseSeeds(f, ".csv")
	f.Fuzz(func(t *testing.T, b []byte) {
		lf, err := ParseKeaCSV(bytes.NewReader(b), "fuzz.csv", "kea")
		checkLeaseFile(t, lf, err)
	})
}

func FuzzParseKeaLegal(f *testing.F) {
	addLeaseSeeds(f, ".txt")
	f.Fuzz(func(t *testing.T, b []byte) {
		lf, err := ParseKeaLegal(bytes.NewReader(b), "fuzz.txt", "kea", time.UTC)
		checkLeaseFile(t, lf, err)
	})
}

func FuzzParseDnsmasq(f *testing.F) {
	addLeaseSeeds(f, ".leases")
	f.Fuzz(func(t *testing.T, b []byte) {
		lf, err := ParseDnsmasq(bytes.NewReader(b), "fuzz.leases", "dnsmasq", 1_800_000_000*1e6)
		checkLeaseFile(t, lf, err)
	})
}
