package registry

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// cronJobParseSchedule checks a CronJob schedule the way the upstream
// controller's parser (robfig/cron, standard mode) accepts it: five fields
// (minute hour day-of-month month day-of-week) with *, ?, lists, ranges,
// steps and month/day names, or a macro such as @hourly or @every 5m. The
// error messages are the parser's.
func cronJobParseSchedule(spec string) error {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return fmt.Errorf("empty spec string")
	}
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		i := strings.Index(spec, " ")
		if i < 0 {
			i = len(spec)
		}
		eq := strings.Index(spec, "=")
		if _, err := time.LoadLocation(spec[eq+1 : i]); err != nil {
			return fmt.Errorf("provided bad location %s: %w", spec[eq+1:i], err)
		}
		spec = strings.TrimSpace(spec[i:])
	}
	if strings.HasPrefix(spec, "@") {
		return cronJobParseDescriptor(spec)
	}
	fields := strings.Fields(spec)
	if len(fields) != 5 {
		return fmt.Errorf("expected exactly 5 fields, found %d: %s", len(fields), fields)
	}
	for i, f := range fields {
		if err := cronJobParseField(f, cronJobBounds(i)); err != nil {
			return err
		}
	}
	return nil
}

func cronJobParseDescriptor(d string) error {
	switch d {
	case "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly":
		return nil
	}
	if rest, ok := strings.CutPrefix(d, "@every "); ok {
		if _, err := time.ParseDuration(rest); err != nil {
			return fmt.Errorf("failed to parse duration %s: %w", d, err)
		}
		return nil
	}
	return fmt.Errorf("unrecognized descriptor: %s", d)
}

type cronJobFieldBounds struct {
	min, max int
	names    map[string]int
}

// cronJobBounds returns the bounds of the i-th field of a schedule.
func cronJobBounds(i int) cronJobFieldBounds {
	switch i {
	case 0:
		return cronJobFieldBounds{min: 0, max: 59}
	case 1:
		return cronJobFieldBounds{min: 0, max: 23}
	case 2:
		return cronJobFieldBounds{min: 1, max: 31}
	case 3:
		return cronJobFieldBounds{min: 1, max: 12, names: map[string]int{
			"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
			"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
		}}
	default:
		return cronJobFieldBounds{min: 0, max: 6, names: map[string]int{
			"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6,
		}}
	}
}

// cronJobParseField checks one comma-separated field.
func cronJobParseField(f string, b cronJobFieldBounds) error {
	for _, expr := range strings.Split(f, ",") {
		if err := cronJobParseRange(expr, b); err != nil {
			return err
		}
	}
	return nil
}

// cronJobParseRange checks number | number-number | * | ?, each with an
// optional /step.
func cronJobParseRange(expr string, b cronJobFieldBounds) error {
	rangeAndStep := strings.Split(expr, "/")
	lowAndHigh := strings.Split(rangeAndStep[0], "-")
	singleDigit := len(lowAndHigh) == 1
	var start, end int
	var err error
	if lowAndHigh[0] == "*" || lowAndHigh[0] == "?" {
		start, end = b.min, b.max
	} else {
		if start, err = cronJobParseIntOrName(lowAndHigh[0], b.names); err != nil {
			return err
		}
		switch len(lowAndHigh) {
		case 1:
			end = start
		case 2:
			if end, err = cronJobParseIntOrName(lowAndHigh[1], b.names); err != nil {
				return err
			}
		default:
			return fmt.Errorf("too many hyphens: %s", expr)
		}
	}
	step := 1
	switch len(rangeAndStep) {
	case 1:
	case 2:
		if step, err = cronJobParseInt(rangeAndStep[1]); err != nil {
			return err
		}
		// "N/step" means N-max/step.
		if singleDigit {
			end = b.max
		}
	default:
		return fmt.Errorf("too many slashes: %s", expr)
	}
	switch {
	case start < b.min:
		return fmt.Errorf("beginning of range (%d) below minimum (%d): %s", start, b.min, expr)
	case end > b.max:
		return fmt.Errorf("end of range (%d) above maximum (%d): %s", end, b.max, expr)
	case start > end:
		return fmt.Errorf("beginning of range (%d) beyond end of range (%d): %s", start, end, expr)
	case step == 0:
		return fmt.Errorf("step of range should be a positive number: %s", expr)
	}
	return nil
}

func cronJobParseIntOrName(s string, names map[string]int) (int, error) {
	if n, ok := names[strings.ToLower(s)]; ok {
		return n, nil
	}
	return cronJobParseInt(s)
}

func cronJobParseInt(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("failed to parse int from %s: %w", s, err)
	}
	if n < 0 {
		return 0, fmt.Errorf("negative number (%d) not allowed: %s", n, s)
	}
	return n, nil
}
