package main

// Values: loading YAML the way Helm does (through JSON, so numbers are float64), coalescing
// user values over chart defaults, and parsing --set/--set-string expressions (Helm's strvals).

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	yaml2 "gopkg.in/yaml.v2"
)

// yamlToJSONValue converts what yaml.v2 decodes (map[interface{}]interface{}, ints) into the
// JSON data model (map[string]interface{}, float64) the way sigs.k8s.io/yaml does in Helm.
func yamlToJSONValue(v interface{}) (interface{}, error) {
	switch x := v.(type) {
	case map[interface{}]interface{}:
		m := make(map[string]interface{}, len(x))
		for k, val := range x {
			var ks string
			switch kk := k.(type) {
			case string:
				ks = kk
			case int, int64, float64, bool:
				ks = fmt.Sprint(kk)
			case nil:
				ks = "null"
			default:
				return nil, fmt.Errorf("unsupported map key type %T", k)
			}
			cv, err := yamlToJSONValue(val)
			if err != nil {
				return nil, err
			}
			m[ks] = cv
		}
		return m, nil
	case []interface{}:
		out := make([]interface{}, len(x))
		for i, val := range x {
			cv, err := yamlToJSONValue(val)
			if err != nil {
				return nil, err
			}
			out[i] = cv
		}
		return out, nil
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case uint64:
		return float64(x), nil
	default:
		return x, nil
	}
}

// parseYAMLMap decodes a YAML document that must be a mapping (or empty).
func parseYAMLMap(data []byte, what string) (map[string]interface{}, error) {
	var raw interface{}
	if err := yaml2.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%s: %v", what, err)
	}
	if raw == nil {
		return map[string]interface{}{}, nil
	}
	v, err := yamlToJSONValue(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", what, err)
	}
	m, ok := v.(map[string]interface{})
	if !ok {
		return nil, fmt.Errorf("%s: top level must be a mapping", what)
	}
	return m, nil
}

func readValuesFile(path string) (map[string]interface{}, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseYAMLMap(data, path)
}

func deepCopy(v interface{}) interface{} {
	switch x := v.(type) {
	case map[string]interface{}:
		m := make(map[string]interface{}, len(x))
		for k, val := range x {
			m[k] = deepCopy(val)
		}
		return m
	case []interface{}:
		out := make([]interface{}, len(x))
		for i, val := range x {
			out[i] = deepCopy(val)
		}
		return out
	default:
		return x
	}
}

// coalesce merges src (user values, higher priority) into dst (defaults) like Helm: maps merge
// recursively, anything else replaces, and an explicit null deletes the default key.
func coalesce(dst, src map[string]interface{}) map[string]interface{} {
	for k, sv := range src {
		if sv == nil {
			delete(dst, k)
			continue
		}
		dm, dok := dst[k].(map[string]interface{})
		sm, sok := sv.(map[string]interface{})
		if dok && sok {
			dst[k] = coalesce(dm, sm)
		} else {
			dst[k] = deepCopy(sv)
		}
	}
	return dst
}

// ---- --set parsing (a faithful subset of helm.sh/helm/v3/pkg/strvals) -----------------------

// typedValue converts a --set value like Helm: true/false, null, base-10 integers (int64, no
// leading zero) and everything else a string.
func typedValue(s string) interface{} {
	switch {
	case strings.EqualFold(s, "true"):
		return true
	case strings.EqualFold(s, "false"):
		return false
	case strings.EqualFold(s, "null"):
		return nil
	case s == "0":
		return int64(0)
	}
	if len(s) > 0 && s[0] != '0' {
		if iv, err := strconv.ParseInt(s, 10, 64); err == nil {
			return iv
		}
	}
	return s
}

// splitUnescaped splits s at sep characters not preceded by a backslash, outside {...}.
func splitUnescaped(s string, sep byte) []string {
	var parts []string
	var cur strings.Builder
	depth := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			cur.WriteByte(c)
			cur.WriteByte(s[i+1])
			i++
			continue
		}
		if c == '{' {
			depth++
		} else if c == '}' && depth > 0 {
			depth--
		}
		if c == sep && depth == 0 {
			parts = append(parts, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	parts = append(parts, cur.String())
	return parts
}

func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// keyPart is one step of a --set key: a map key, optionally followed by list indices.
type keyPart struct {
	name    string
	indices []int
}

func parseKey(key string) ([]keyPart, error) {
	var parts []keyPart
	for _, seg := range splitUnescaped(key, '.') {
		name := seg
		var idx []int
		for strings.HasSuffix(name, "]") {
			open := strings.LastIndex(name, "[")
			if open < 0 {
				return nil, fmt.Errorf("key %q: unbalanced ]", key)
			}
			n, err := strconv.Atoi(name[open+1 : len(name)-1])
			if err != nil || n < 0 {
				return nil, fmt.Errorf("key %q: bad list index", key)
			}
			if n > 65536 {
				return nil, fmt.Errorf("key %q: index %d is too large", key, n)
			}
			idx = append([]int{n}, idx...)
			name = name[:open]
		}
		name = unescape(name)
		if name == "" {
			return nil, fmt.Errorf("key %q has an empty part", key)
		}
		parts = append(parts, keyPart{name: name, indices: idx})
	}
	return parts, nil
}

// parseSet applies one --set (or --set-string when asString) argument to vals.
func parseSet(vals map[string]interface{}, expr string, asString bool) error {
	for _, assign := range splitUnescaped(expr, ',') {
		if assign == "" {
			continue
		}
		eq := -1
		for i := 0; i < len(assign); i++ {
			if assign[i] == '\\' {
				i++
				continue
			}
			if assign[i] == '=' {
				eq = i
				break
			}
		}
		if eq < 0 {
			return fmt.Errorf("key %q has no value", assign)
		}
		parts, err := parseKey(assign[:eq])
		if err != nil {
			return err
		}
		raw := assign[eq+1:]
		var val interface{}
		if strings.HasPrefix(raw, "{") && strings.HasSuffix(raw, "}") {
			var list []interface{}
			inner := raw[1 : len(raw)-1]
			if inner != "" {
				for _, item := range splitUnescaped(inner, ',') {
					if asString {
						list = append(list, unescape(item))
					} else {
						list = append(list, typedValue(unescape(item)))
					}
				}
			}
			if list == nil {
				list = []interface{}{}
			}
			val = list
		} else if asString {
			val = unescape(raw)
		} else {
			val = typedValue(unescape(raw))
		}
		if err := setPath(vals, parts, val); err != nil {
			return fmt.Errorf("--set %s: %v", assign, err)
		}
	}
	return nil
}

func setPath(m map[string]interface{}, parts []keyPart, val interface{}) error {
	p := parts[0]
	last := len(parts) == 1
	if len(p.indices) == 0 {
		if last {
			if val == nil {
				delete(m, p.name)
			} else {
				m[p.name] = val
			}
			return nil
		}
		child, ok := m[p.name].(map[string]interface{})
		if !ok {
			child = map[string]interface{}{}
			m[p.name] = child
		}
		return setPath(child, parts[1:], val)
	}
	// name[i][j]...: walk/extend lists.
	var setIn func(cur interface{}, idx []int) (interface{}, error)
	setIn = func(cur interface{}, idx []int) (interface{}, error) {
		list, _ := cur.([]interface{})
		i := idx[0]
		for len(list) <= i {
			list = append(list, nil)
		}
		if len(idx) > 1 {
			v, err := setIn(list[i], idx[1:])
			if err != nil {
				return nil, err
			}
			list[i] = v
			return list, nil
		}
		if last {
			list[i] = val
			return list, nil
		}
		child, ok := list[i].(map[string]interface{})
		if !ok {
			child = map[string]interface{}{}
		}
		if err := setPath(child, parts[1:], val); err != nil {
			return nil, err
		}
		list[i] = child
		return list, nil
	}
	v, err := setIn(m[p.name], p.indices)
	if err != nil {
		return err
	}
	m[p.name] = v
	return nil
}

// toJSONCompatible normalises values for the schema check and toJson (int64 stays integral).
func toJSONCompatible(v interface{}) (interface{}, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out interface{}
	err = json.Unmarshal(b, &out)
	return out, err
}
