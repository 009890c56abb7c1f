package main

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
)

// EnvPrefix starts the name of every environment variable the binary
// reads.
const EnvPrefix = "FLOWLAKE_"

// Environment variables that are not settings of Config.
const (
	envConfig = EnvPrefix + "CONFIG" // the --config file
	envData   = EnvPrefix + "DATA"   // short for FLOWLAKE_LAKE_ROOT, like --data
)

// override is a value set on the command line for a configuration key.
type override struct {
	key   string
	value string
}

// sources are the layers loadConfig merges over the defaults, lowest
// precedence first: file, environment, flags.
type sources struct {
	file      string   // YAML file; empty for none
	environ   []string // KEY=value pairs, as os.Environ
	overrides []override
}

// loadConfig merges defaults, the YAML file, FLOWLAKE_* variables and
// flags, decodes the result strictly (unknown keys are errors) and
// validates it. It returns the names of FLOWLAKE_* variables it ignored
// because they name no setting.
func loadConfig(src sources) (Config, []string, error) {
	k := koanf.New(".")
	defaults := settingsOf(DefaultConfig())
	if err := k.Load(mapProvider(defaults.nested()), nil); err != nil {
		return Config{}, nil, fmt.Errorf("load defaults: %w", err)
	}
	if src.file != "" {
		if err := k.Load(file.Provider(src.file), yaml.Parser()); err != nil {
			return Config{}, nil, fmt.Errorf("load config file %s: %w", src.file, err)
		}
	}
	names := map[string]string{envData: "lake.root"}
	for _, key := range defaults.keys("") {
		names[envName(key)] = key
	}
	var ignored []string
	envp := env.Provider(".", env.Opt{
		Prefix:      EnvPrefix,
		EnvironFunc: func() []string { return src.environ },
		TransformFunc: func(name, value string) (string, any) {
			key, ok := names[name]
			switch {
			case name == envConfig || value == "":
				return "", nil
			case !ok:
				ignored = append(ignored, name)
				return "", nil
			}
			return key, value
		},
	})
	if err := k.Load(envp, nil); err != nil {
		return Config{}, nil, fmt.Errorf("load environment: %w", err)
	}
	for _, o := range src.overrides {
		if err := k.Set(o.key, o.value); err != nil {
			return Config{}, nil, fmt.Errorf("set %s from flag: %w", o.key, err)
		}
	}
	var c Config
	err := k.UnmarshalWithConf("", &c, koanf.UnmarshalConf{DecoderConfig: &mapstructure.DecoderConfig{
		DecodeHook:       mapstructure.ComposeDecodeHookFunc(durationHook, mapstructure.TextUnmarshallerHookFunc()),
		WeaklyTypedInput: true,
		ErrorUnused:      true,
	}})
	if err != nil {
		return Config{}, ignored, fmt.Errorf("decode configuration: %w", err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, ignored, fmt.Errorf("invalid configuration: %w", err)
	}
	slices.Sort(ignored)
	return c, ignored, nil
}

// envName is the environment variable of a configuration key.
func envName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// mapProvider is a koanf.Provider over a nested map.
type mapProvider map[string]any

// ReadBytes is not supported: the map is already parsed.
func (m mapProvider) ReadBytes() ([]byte, error) {
	return nil, errors.New("map provider has no bytes")
}

// Read returns the map.
func (m mapProvider) Read() (map[string]any, error) { return m, nil }

var durationType = reflect.TypeFor[time.Duration]()

// durationHook decodes durations from Go syntax ("15m", "1h30m") and
// whole days ("90d", "1d12h"), which Go's syntax lacks.
func durationHook(from, to reflect.Type, data any) (any, error) {
	if to != durationType {
		return data, nil
	}
	switch from.Kind() {
	case reflect.String:
		return parseDuration(data.(string))
	case reflect.Int, reflect.Int64, reflect.Float64:
		if reflect.ValueOf(data).IsZero() {
			return time.Duration(0), nil
		}
		return nil, fmt.Errorf("duration %v has no unit (write e.g. 15m, 1h or 90d)", data)
	}
	return data, nil
}

// parseDuration parses Go durations with an optional leading number of
// days: "90d", "1d12h", "15m".
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	orig := s
	if f, err := strconv.ParseFloat(s, 64); err == nil && f != 0 {
		return 0, fmt.Errorf("duration %q has no unit (write e.g. 15m, 1h or 90d)", orig)
	}
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.ParseUint(s[:i], 10, 32)
		if err != nil {
			return 0, fmt.Errorf("duration %q: bad number of days", orig)
		}
		days = time.Duration(n) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q: want e.g. 15m, 1h30m, 90d", orig)
	}
	if days > 0 && d < 0 {
		return 0, fmt.Errorf("duration %q: mixed signs", orig)
	}
	return days + d, nil
}

// formatDuration writes a duration the way parseDuration reads it, as
// short as possible: "15m", "1h30m", "90d", "0s".
func formatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	var b strings.Builder
	if d < 0 {
		b.WriteByte('-')
		d = -d
	}
	const day = 24 * time.Hour
	if days := d / day; days > 0 {
		fmt.Fprintf(&b, "%dd", days)
		d -= days * day
	}
	if d == 0 {
		return b.String()
	}
	s := d.String() // e.g. 1h30m0s, 15m0s, 1.5s, 300ms
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	b.WriteString(s)
	return b.String()
}
