package storage

import (
	"errors"
	"fmt"
)

// Error codes of storage errors.
const (
	ErrCodeKeyNotFound int = iota + 1
	ErrCodeKeyExists
	ErrCodeResourceVersionConflicts
	ErrCodeInvalidObj
	ErrCodeResourceVersionTooOld
	ErrCodeTooLarge
	ErrCodeTimeout
)

// Error is returned by every Interface implementation for the conditions
// above; anything else is an internal error.
type Error struct {
	Code            int
	Key             string
	ResourceVersion int64
	Msg             string
}

func (e *Error) Error() string {
	return fmt.Sprintf("storage error %d on %q: %s", e.Code, e.Key, e.Msg)
}

// NewError builds an *Error.
func NewError(code int, key, format string, args ...any) *Error {
	return &Error{Code: code, Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Code returns err's storage code, or 0.
func Code(err error) int {
	var se *Error
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

func IsNotFound(err error) bool { return Code(err) == ErrCodeKeyNotFound }
func IsExists(err error) bool   { return Code(err) == ErrCodeKeyExists }
func IsConflict(err error) bool { return Code(err) == ErrCodeResourceVersionConflicts }
func IsTooOld(err error) bool   { return Code(err) == ErrCodeResourceVersionTooOld }
