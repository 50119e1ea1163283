package main

// A small JSON Schema (draft 7 subset) validator for values.schema.json: type (string or list),
// required, enum, const, properties, additionalProperties (bool or schema), items, minimum,
// maximum, minLength, maxLength, pattern, minItems, maxItems, anyOf/oneOf/allOf/not, local $ref
// ("#/definitions/x" or "#/$defs/x"). Error lines follow Helm's ("- path: message").

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strings"
)

type schemaValidator struct {
	root map[string]interface{}
	errs []string
}

func jsonType(v interface{}) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case map[string]interface{}:
		return "object"
	case []interface{}:
		return "array"
	case float64:
		if x == math.Trunc(x) && !math.IsInf(x, 0) {
			return "integer"
		}
		return "number"
	case int, int64:
		return "integer"
	}
	return fmt.Sprintf("%T", v)
}

func typeMatches(v interface{}, t string) bool {
	jt := jsonType(v)
	return jt == t || (t == "number" && jt == "integer")
}

func num(v interface{}) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	}
	return 0, false
}

func (sv *schemaValidator) resolve(s map[string]interface{}) map[string]interface{} {
	for depth := 0; depth < 32; depth++ {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s
		}
		var target interface{} = sv.root
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			m, ok := target.(map[string]interface{})
			if !ok {
				target = nil
				break
			}
			target = m[part]
		}
		t, ok := target.(map[string]interface{})
		if !ok {
			sv.errs = append(sv.errs, fmt.Sprintf("- (schema): unresolvable $ref %q", ref))
			return map[string]interface{}{}
		}
		s = t
	}
	return s
}

func (sv *schemaValidator) fail(path, msg string) {
	if path == "" {
		path = "(root)"
	}
	sv.errs = append(sv.errs, fmt.Sprintf("- %s: %s", path, msg))
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func (sv *schemaValidator) validate(v interface{}, s map[string]interface{}, path string) {
	s = sv.resolve(s)
	if t, ok := s["type"]; ok {
		var types []string
		switch tt := t.(type) {
		case string:
			types = []string{tt}
		case []interface{}:
			for _, x := range tt {
				if xs, ok := x.(string); ok {
					types = append(types, xs)
				}
			}
		}
		matched := false
		for _, t := range types {
			if typeMatches(v, t) {
				matched = true
			}
		}
		if !matched {
			sv.fail(path, fmt.Sprintf("Invalid type. Expected: %s, given: %s",
				strings.Join(types, "|"), jsonType(v)))
			return
		}
	}
	if enum, ok := s["enum"].([]interface{}); ok {
		found := false
		for _, e := range enum {
			if reflect.DeepEqual(normaliseNum(e), normaliseNum(v)) {
				found = true
			}
		}
		if !found {
			var opts []string
			for _, e := range enum {
				b, _ := json.Marshal(e)
				opts = append(opts, string(b))
			}
			sv.fail(path, "must be one of the following: "+strings.Join(opts, ", "))
		}
	}
	if c, ok := s["const"]; ok && !reflect.DeepEqual(normaliseNum(c), normaliseNum(v)) {
		sv.fail(path, "does not match the const value")
	}
	if n, ok := num(v); ok {
		if min, ok := num(s["minimum"]); ok && n < min {
			sv.fail(path, fmt.Sprintf("Must be greater than or equal to %v", min))
		}
		if max, ok := num(s["maximum"]); ok && n > max {
			sv.fail(path, fmt.Sprintf("Must be less than or equal to %v", max))
		}
	}
	if str, ok := v.(string); ok {
		if min, ok := num(s["minLength"]); ok && float64(len([]rune(str))) < min {
			sv.fail(path, fmt.Sprintf("String length must be greater than or equal to %v", min))
		}
		if max, ok := num(s["maxLength"]); ok && float64(len([]rune(str))) > max {
			sv.fail(path, fmt.Sprintf("String length must be less than or equal to %v", max))
		}
		if pat, ok := s["pattern"].(string); ok {
			re, err := regexp.Compile(pat)
			if err != nil {
				sv.fail(path, fmt.Sprintf("(schema) bad pattern %q: %v", pat, err))
			} else if !re.MatchString(str) {
				sv.fail(path, fmt.Sprintf("Does not match pattern '%s'", pat))
			}
		}
	}
	if obj, ok := v.(map[string]interface{}); ok {
		if req, ok := s["required"].([]interface{}); ok {
			for _, r := range req {
				if rs, ok := r.(string); ok {
					if _, present := obj[rs]; !present {
						sv.fail(path, rs+" is required")
					}
				}
			}
		}
		props, _ := s["properties"].(map[string]interface{})
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if ps, ok := props[k].(map[string]interface{}); ok {
				sv.validate(obj[k], ps, join(path, k))
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					sv.fail(path, fmt.Sprintf("Additional property %s is not allowed", k))
				}
			case map[string]interface{}:
				sv.validate(obj[k], ap, join(path, k))
			}
		}
	}
	if arr, ok := v.([]interface{}); ok {
		if items, ok := s["items"].(map[string]interface{}); ok {
			for i, it := range arr {
				sv.validate(it, items, fmt.Sprintf("%s.%d", path, i))
			}
		}
		if min, ok := num(s["minItems"]); ok && float64(len(arr)) < min {
			sv.fail(path, fmt.Sprintf("Array must have at least %v items", min))
		}
		if max, ok := num(s["maxItems"]); ok && float64(len(arr)) > max {
			sv.fail(path, fmt.Sprintf("Array must have at most %v items", max))
		}
	}
	if all, ok := s["allOf"].([]interface{}); ok {
		for _, sub := range all {
			if m, ok := sub.(map[string]interface{}); ok {
				sv.validate(v, m, path)
			}
		}
	}
	countValid := func(list []interface{}) int {
		n := 0
		for _, sub := range list {
			m, ok := sub.(map[string]interface{})
			if !ok {
				continue
			}
			inner := &schemaValidator{root: sv.root}
			inner.validate(v, m, path)
			if len(inner.errs) == 0 {
				n++
			}
		}
		return n
	}
	if any, ok := s["anyOf"].([]interface{}); ok && countValid(any) == 0 {
		sv.fail(path, "Must validate at least one schema (anyOf)")
	}
	if one, ok := s["oneOf"].([]interface{}); ok && countValid(one) != 1 {
		sv.fail(path, "Must validate one and only one schema (oneOf)")
	}
	if not, ok := s["not"].(map[string]interface{}); ok && countValid([]interface{}{not}) == 1 {
		sv.fail(path, "Must not validate the schema (not)")
	}
}

func normaliseNum(v interface{}) interface{} {
	if n, ok := num(v); ok {
		return n
	}
	return v
}

// validateValues checks values against schemaJSON; returns nil or an error listing every
// problem, worded like Helm's.
func validateValues(chartName string, schemaJSON []byte, values map[string]interface{}) error {
	var root map[string]interface{}
	if err := json.Unmarshal(schemaJSON, &root); err != nil {
		return fmt.Errorf("%s: values.schema.json is not valid JSON: %v", chartName, err)
	}
	v, err := toJSONCompatible(values)
	if err != nil {
		return err
	}
	sv := &schemaValidator{root: root}
	sv.validate(v, root, "")
	if len(sv.errs) == 0 {
		return nil
	}
	return fmt.Errorf("values don't meet the specifications of the schema(s) in the following "+
		"chart(s):\n%s:\n%s", chartName, strings.Join(sv.errs, "\n"))
}
