package action

import (
	"errors"
	"fmt"

	"github.com/distgen/distgen/generator/load"
	"github.com/distgen/distgen/generator/publish"
)

// ComponentError is a problem building one component: its chart does not
// lint or render, or an upstream chart it wraps is not vendored.
type ComponentError struct {
	Component string
	// Pos is where the component is declared.
	Pos string
	Err error
}

func (e *ComponentError) Error() string {
	if e.Pos != "" {
		return fmt.Sprintf("%s: component %q: %v", e.Pos, e.Component, e.Err)
	}
	return fmt.Sprintf("component %q: %v", e.Component, e.Err)
}

func (e *ComponentError) Unwrap() error { return e.Err }

// UsageError is a command used wrongly (an unknown component, a bad flag).
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// IsUserError reports whether err comes from the user's input (sources,
// bundles, flags) rather than from the machine or distgen itself.
func IsUserError(err error) bool {
	var ce *ComponentError
	var ue *UsageError
	var tm *TagMovedError
	var ub *UnbumpedError
	var ve *VerifyError
	var oe *OutdatedError
	var te *publish.TargetError
	return load.IsUserError(err) || errors.As(err, &te) || errors.As(err, &ce) || errors.As(err, &ue) || errors.As(err, &tm) || errors.As(err, &ub) || errors.As(err, &ve) || errors.As(err, &oe) ||
		errors.Is(err, load.ErrNotProject) || errors.Is(err, ErrStaleBuild)
}
