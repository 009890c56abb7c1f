package forecast_test

import (
	"testing"
	"time"

	"github.com/flowlake/flowlake/reports/forecast"
)

// TestCrossing forecasts a link growing 3 % a week and checks the dates its
// forecast and bounds reach 80 % of capacity: the upper bounds first, the
// lower last, each at the first step at or above the threshold, and "not
// within the horizon" for a threshold nothing reaches.
func TestCrossing(t *testing.T) {
	s := synthHourly(8*168, 7, 0.03, 0.02)
	cfg := forecast.HourlyConfig()
	cfg.Horizon = 4 * 168
	res, err := forecast.Forecast(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	peak := 0.0
	for _, v := range s.Values[len(s.Values)-168:] {
		peak = max(peak, v)
	}
	threshold := peak * 1.05 // 5 % above last week's peak: reached in a few weeks
	c, err := res.Crossing(threshold)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("model %s; threshold %.4g: upper95 %s, upper80 %s, mean %s, lower80 %s, lower95 %s",
		res.Model, threshold, c.Upper95, c.Upper80, c.Mean, c.Lower80, c.Lower95)
	if !c.Mean.Found || !c.Upper95.Found {
		t.Fatalf("the growing link's forecast never crosses %.4g: %+v", threshold, c)
	}
	order := []forecast.Cross{c.Upper95, c.Upper80, c.Mean, c.Lower80, c.Lower95}
	for i := 1; i < len(order); i++ {
		if order[i].Found && order[i].Step < order[i-1].Step {
			t.Errorf("crossing %d at step %d before crossing %d at step %d", i, order[i].Step, i-1, order[i-1].Step)
		}
	}
	for _, x := range order {
		if !x.Found {
			continue
		}
		want := s.Start.Add(time.Duration(len(s.Values)+x.Step) * time.Hour)
		if !x.Time.Equal(want) {
			t.Errorf("crossing at step %d is dated %s, want %s", x.Step, x.Time, want)
		}
	}
	for j := range c.Mean.Step {
		if res.Mean[j] >= threshold {
			t.Errorf("mean crossing at step %d but step %d is already %.4g", c.Mean.Step, j, res.Mean[j])
		}
	}
	if res.Mean[c.Mean.Step] < threshold {
		t.Errorf("mean at its crossing step is %.4g, below %.4g", res.Mean[c.Mean.Step], threshold)
	}
	never, err := res.Crossing(peak * 100)
	if err != nil {
		t.Fatal(err)
	}
	if never.Upper95.Found || never.Mean.String() != "not within the horizon" {
		t.Errorf("a threshold 100× the peak crosses: %+v", never)
	}
}
