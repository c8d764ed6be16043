package extract

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

func TestRecoveredIsDetectableThroughWrapping(t *testing.T) {
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = Recovered("test: read x", r)
			}
		}()
		var s []int
		_ = s[3]
		return nil
	}()
	wrapped := errors.Join(errors.New("other"), fmt.Errorf("outer: %w", err))
	pe, ok := AsPanic(wrapped)
	if !ok {
		t.Fatalf("AsPanic(%v) = false", wrapped)
	}
	if !strings.Contains(string(pe.Stack), "TestRecoveredIsDetectableThroughWrapping") {
		t.Errorf("stack does not name the panicking function:\n%s", pe.Stack)
	}
	var re runtime.Error
	if !errors.As(wrapped, &re) {
		t.Errorf("the runtime error is not reachable through Unwrap")
	}
	if strings.Contains(pe.Error(), "goroutine") {
		t.Errorf("Error() carries the stack: %q", pe.Error())
	}
	if _, ok := AsPanic(errors.New("malformed")); ok {
		t.Errorf("AsPanic accepts an ordinary error")
	}
}
