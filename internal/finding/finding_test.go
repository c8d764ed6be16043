package finding

import "testing"

func TestGate(t *testing.T) {
	tests := []struct {
		rating, threshold, rule string
		want                    bool
	}{
		{RatingHigh, RatingHigh, UnknownFail, true},
		{RatingMedium, RatingHigh, UnknownFail, false},
		{RatingUnknown, RatingCritical, UnknownFail, true}, // the safe default
		{"", RatingCritical, "", true},
		{RatingUnknown, RatingHigh, UnknownIgnore, false},
		{RatingUnknown, RatingUnknown, UnknownIgnore, false},
		{RatingLow, RatingUnknown, UnknownIgnore, true},
		{RatingUnknown, RatingHigh, RatingMedium, false},
		{RatingUnknown, RatingMedium, RatingMedium, true},
		{RatingNone, RatingLow, UnknownFail, false},
	}
	for _, tt := range tests {
		if got := FailsAtOrAbove(tt.rating, tt.threshold, tt.rule); got != tt.want {
			t.Errorf("FailsAtOrAbove(%q, %q, %q) = %v, want %v", tt.rating, tt.threshold, tt.rule, got, tt.want)
		}
	}
}

func TestParseUnknownRule(t *testing.T) {
	for in, want := range map[string]string{"": UnknownFail, "FAIL": UnknownFail, " ignore": UnknownIgnore, "high": RatingHigh, "Low": RatingLow} {
		got, err := ParseUnknownRule(in)
		if err != nil || got != want {
			t.Errorf("ParseUnknownRule(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"unknown", "hihg", "pass"} {
		if _, err := ParseUnknownRule(bad); err == nil {
			t.Errorf("ParseUnknownRule(%q) accepted", bad)
		}
	}
}
