package atomicfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// ReadJSON decodes the JSON file at path, as WriteJSON writes it, into v
// and reports whether the file exists: a missing file gives found false
// and leaves v as it was (the caller's defaults). Anything after the JSON
// value is an error; errors name the path.
func ReadJSON(path string, v any) (found bool, err error) {
	return readJSON(path, v, false)
}

// ReadJSONStrict is ReadJSON that also refuses a field v has no place
// for, for settings whose every key must mean something.
func ReadJSONStrict(path string, v any) (found bool, err error) {
	return readJSON(path, v, true)
}

func readJSON(path string, v any, strict bool) (bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading %s: %w", path, err)
	}
	if !strict {
		err = json.Unmarshal(b, v)
	} else {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		err = dec.Decode(v)
		if err == nil && dec.Decode(&struct{}{}) != io.EOF {
			err = errors.New("data after the JSON value")
		}
	}
	if err != nil {
		return false, fmt.Errorf("parsing %s: %w", path, err)
	}
	return true, nil
}
