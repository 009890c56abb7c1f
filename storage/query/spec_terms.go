package query

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/flowlake/flowlake/storage/schema"
)

func (c *compiled) parseDim(s string) (dimSpec, error) {
	base, rest, hasSlash := strings.Cut(s, "/")
	if !hasSlash {
		i, err := c.column("group_by", s)
		if err != nil {
			return dimSpec{}, err
		}
		return dimSpec{name: s, col: i, kind: dimColumn}, nil
	}
	if base == schema.ColTime {
		b, err := parseBucket(rest)
		if err != nil {
			return dimSpec{}, specErr("group_by", "%q: %v", s, err)
		}
		return dimSpec{name: "time/" + b.String(), col: 0, kind: dimTime, bucket: b}, nil
	}
	prefix, ok := strings.CutSuffix(base, "_net")
	if !ok {
		return dimSpec{}, specErr("group_by", "%q: only time/<bucket> and <address>_net/<bits> take a slash", s)
	}
	i, err := c.column("group_by", prefix+"_addr")
	if err != nil {
		if i, err = c.column("group_by", prefix); err != nil {
			return dimSpec{}, specErr("group_by", "%q: no address column %s_addr", s, prefix)
		}
	}
	if ci, _ := columnInfo(c.d.Columns[i]); !ci.addr {
		return dimSpec{}, specErr("group_by", "%q: %s is not an address column", s, c.d.Columns[i].Name)
	}
	nums := strings.Split(rest, "/")
	bits := make([]int, len(nums))
	for k, n := range nums {
		if bits[k], err = strconv.Atoi(n); err != nil || bits[k] < 0 || bits[k] > 128 || len(nums) > 2 {
			return dimSpec{}, specErr("group_by", "%q: want <address>_net/<bits> or /<IPv4 bits>/<IPv6 bits>", s)
		}
	}
	d := dimSpec{col: i, kind: dimNet}
	switch {
	case len(bits) == 2:
		d.v4, d.v6 = bits[0], bits[1]
	case bits[0] <= 32:
		d.v4, d.v6 = bits[0], 64
	default:
		d.v4, d.v6 = 24, bits[0]
	}
	if d.v4 > 32 {
		return dimSpec{}, specErr("group_by", "%q: an IPv4 prefix has at most 32 bits", s)
	}
	d.name = fmt.Sprintf("%s_net/%d/%d", prefix, d.v4, d.v6)
	return d, nil
}

func (c *compiled) parseMetric(s string) (metricSpec, error) {
	m := metricRE.FindStringSubmatch(strings.ReplaceAll(s, " ", ""))
	if m == nil {
		return metricSpec{}, specErr("metrics", "%q: want name(column), e.g. sum(bytes), count(), p95(bytes)", s)
	}
	fn, arg, param := m[1], m[2], m[3]
	ms := metricSpec{col: -1}
	var p float64
	if strings.HasPrefix(fn, "p") && len(fn) > 1 && fn != "pps" && fn != "percentile" {
		n, err := strconv.Atoi(fn[1:])
		if err != nil || n <= 0 || n >= 100 {
			return ms, specErr("metrics", "%q: percentiles are p1 … p99 or percentile(column, P)", s)
		}
		fn, p = "percentile", float64(n)
	}
	f, ok := metricNames[fn]
	if !ok {
		hint := ""
		if m := closest(fn, slices.Sorted(maps.Keys(metricNames))); m != "" {
			hint = fmt.Sprintf("did you mean %q? ", m)
		}
		return ms, specErr("metrics", "%q: unknown metric %q (%sone of count, sum, min, max, avg, count_distinct, approx_count_distinct, p95, percentile, bps, pps)", s, fn, hint)
	}
	ms.fn = f
	if f == mPercentile && param != "" {
		var err error
		if p, err = strconv.ParseFloat(param, 64); err != nil || p <= 0 || p >= 100 {
			return ms, specErr("metrics", "%q: a percentile is between 0 and 100", s)
		}
	} else if param != "" {
		return ms, specErr("metrics", "%q: %s takes one argument", s, fn)
	}
	ms.p = p
	switch f {
	case mCount, mBPS, mPPS:
		if arg != "" && arg != "*" {
			return ms, specErr("metrics", "%q: %s() takes no column", s, fn)
		}
		ms.name = fn + "()"
		if f == mBPS || f == mPPS {
			col := "bytes"
			if f == mPPS {
				col = "packets"
			}
			i, err := c.column("metrics", col)
			if err != nil {
				return ms, specErr("metrics", "%q: dataset %s has no %s column to rate", s, c.d.Name, col)
			}
			ms.col = i
		}
		return ms, nil
	}
	if arg == "" || arg == "*" {
		return ms, specErr("metrics", "%q: %s needs a column", s, fn)
	}
	i, err := c.column("metrics", arg)
	if err != nil {
		var se *SpecError
		errors.As(err, &se)
		return ms, specErr("metrics", "%q: %s", s, se.Msg)
	}
	ms.col = i
	ci, _ := columnInfo(c.d.Columns[i])
	numeric := !ci.addr && (ci.kind == KindUint || ci.kind == KindInt || ci.kind == KindTime || ci.kind == KindBool)
	switch f {
	case mSum, mAvg, mPercentile:
		if !numeric || ci.kind == KindTime {
			return ms, specErr("metrics", "%q: %s needs a numeric column; %s is not", s, fn, arg)
		}
	case mMin, mMax:
		if !numeric {
			return ms, specErr("metrics", "%q: %s needs a numeric or time column; %s is not", s, fn, arg)
		}
	}
	if f == mPercentile {
		ms.name = fmt.Sprintf("percentile(%s,%s)", arg, strconv.FormatFloat(p, 'f', -1, 64))
		if p == float64(int(p)) && m[3] == "" {
			ms.name = fmt.Sprintf("p%d(%s)", int(p), arg)
		}
	} else {
		ms.name = fn + "(" + arg + ")"
	}
	return ms, nil
}
