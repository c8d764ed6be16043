package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// One mechanism, applied to every command once they are all built, so
// that no command can forget it:
//
//   - every flag can be set from the environment, DRYDOCK_ and the flag's
//     name in upper case with dashes as underscores (--fail-on:
//     DRYDOCK_FAIL_ON); a flag given on the command line wins;
//   - every duration flag also takes days ("30d", "1d12h"), as the
//     policy's durations do.

// envName is the environment variable of a flag.
func envName(flag string) string {
	return "DRYDOCK_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// dayDuration wraps a pflag duration value so that it accepts days.
type dayDuration struct{ pflag.Value }

func (d dayDuration) Set(s string) error {
	v, err := parseDayDuration(s)
	if err != nil {
		return err
	}
	return d.Value.Set(v.String())
}

// parseDayDuration reads a Go duration that may start with a number of
// days: "30d", "1d12h", "90m".
func parseDayDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 || n > 100000 {
			return 0, fmt.Errorf("%q: want a duration like 90s, 5m, 24h or 30d", s)
		}
		days, s = time.Duration(n)*24*time.Hour, s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q: want a duration like 90s, 5m, 24h or 30d", s)
	}
	return days + d, nil
}

// prepareFlags wraps every duration flag of cmd and its subcommands, and
// notes the environment variable in each flag's help.
func prepareFlags(cmd *cobra.Command) {
	visit := func(f *pflag.Flag) {
		if f.Value.Type() == "duration" {
			if _, ok := f.Value.(dayDuration); !ok {
				f.Value = dayDuration{f.Value}
			}
		}
		if f.Name != "help" && f.Name != "version" && !strings.Contains(f.Usage, "(env ") {
			f.Usage += " (env " + envName(f.Name) + ")"
		}
	}
	cmd.LocalFlags().VisitAll(visit)
	cmd.PersistentFlags().VisitAll(visit)
	for _, c := range cmd.Commands() {
		prepareFlags(c)
	}
}

// applyEnv sets every flag of cmd not given on the command line from its
// environment variable, if set. An invalid value is an error naming the
// variable.
func applyEnv(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Name == "help" || f.Name == "version" {
			return
		}
		v, ok := os.LookupEnv(envName(f.Name))
		if !ok || v == "" {
			return
		}
		if e := cmd.Flags().Set(f.Name, v); e != nil {
			err = fmt.Errorf("%s=%q (for --%s): %v", envName(f.Name), v, f.Name, e)
		}
	})
	return err
}
