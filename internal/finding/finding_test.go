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

func TestSeverityRank(t *testing.T) {
	for _, tc := range []struct {
		rating string
		want   int
	}{
		{"CRITICAL", 5}, {"critical", 5}, {"High", 4}, {"MEDIUM", 3}, {"low", 2}, {"NONE", 1}, {"none", 1},
		{"UNKNOWN", 0}, {"unknown", 0}, {"", 0},
		{"dreadful", -1}, {"HIGHEST", -1}, {" HIGH", -1}, {"5", -1},
	} {
		if got := SeverityRank(tc.rating); got != tc.want {
			t.Errorf("SeverityRank(%q) = %d, want %d", tc.rating, got, tc.want)
		}
	}
}
