package main

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// textMarshalerType is encoding.TextMarshaler's type.
var textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()

// setting is one key of the configuration tree with its value: a scalar
// (string, int64, uint64, float64, bool; durations as strings) or a
// nested settings.
type setting struct {
	Key   string
	Value any
}

// settings is a level of the configuration tree, in declaration order so
// `flowlake config` prints sections the way docs/configuration.md lists
// them.
type settings []setting

// settingsOf converts a configuration struct into its tree, keyed by koanf
// tags.
func settingsOf(v any) settings {
	s, _ := treeOf(reflect.ValueOf(v)).(settings)
	return s
}

func treeOf(v reflect.Value) any {
	if v.Type() == durationType {
		return formatDuration(time.Duration(v.Int()))
	}
	// Types with a text form (netip.Prefix, netip.Addr) print as that text,
	// the form the configuration file takes; their fields are unexported.
	if v.Kind() != reflect.Pointer && v.Kind() != reflect.Interface && v.Type().Implements(textMarshalerType) {
		text, err := v.Interface().(encoding.TextMarshaler).MarshalText()
		if err != nil {
			return fmt.Sprint(v.Interface())
		}
		return string(text)
	}
	switch v.Kind() {
	case reflect.Struct:
		var out settings
		for i := range v.NumField() {
			f := v.Type().Field(i)
			key := f.Tag.Get("koanf")
			if !f.IsExported() || key == "-" {
				continue
			}
			if key == "" {
				key = f.Name
			}
			out = append(out, setting{Key: key, Value: treeOf(v.Field(i))})
		}
		return out
	case reflect.Map:
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int {
			return strings.Compare(fmt.Sprint(a.Interface()), fmt.Sprint(b.Interface()))
		})
		out := settings{}
		for _, k := range keys {
			out = append(out, setting{Key: fmt.Sprint(k.Interface()), Value: treeOf(v.MapIndex(k))})
		}
		return out
	case reflect.Slice:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = treeOf(v.Index(i))
		}
		return out
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return treeOf(v.Elem())
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return v.Uint()
	case reflect.Float32, reflect.Float64:
		return v.Float()
	}
	return fmt.Sprint(v.Interface())
}

// nested returns the tree as nested maps, the shape koanf loads.
func (s settings) nested() map[string]any {
	m := make(map[string]any, len(s))
	for _, e := range s {
		if sub, ok := e.Value.(settings); ok {
			m[e.Key] = sub.nested()
			continue
		}
		m[e.Key] = e.Value
	}
	return m
}

// keys returns the dotted keys of every leaf, in tree order.
func (s settings) keys(prefix string) []string {
	var out []string
	for _, e := range s {
		key := prefix + e.Key
		if sub, ok := e.Value.(settings); ok && len(sub) > 0 {
			out = append(out, sub.keys(key+".")...)
			continue
		}
		out = append(out, key)
	}
	return out
}

// MarshalYAML renders the tree as a YAML mapping in tree order.
func (s settings) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for _, e := range s {
		k := &yaml.Node{}
		if err := k.Encode(e.Key); err != nil {
			return nil, err
		}
		v := &yaml.Node{}
		if err := v.Encode(e.Value); err != nil {
			return nil, err
		}
		n.Content = append(n.Content, k, v)
	}
	return n, nil
}

// MarshalJSON renders the tree as a JSON object in tree order.
func (s settings) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(e.Key)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(e.Value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
