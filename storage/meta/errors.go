package meta

import "errors"

// Sentinel errors. Every error the store returns for one of these reasons
// wraps the sentinel, so callers map them with errors.Is (the API turns
// them into HTTP statuses in one place).
var (
	// ErrNotFound: the user, role, token, group, ... does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the change clashes with existing data: a duplicate
	// name, a role still assigned to users, the last administrator.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the input fails validation; the message says which
	// field and why.
	ErrInvalid = errors.New("invalid")
	// ErrImmutable: the object is built in (a built-in role) and cannot be
	// changed or deleted.
	ErrImmutable = errors.New("built in and immutable")
	// ErrUnauthenticated: a password, token or session does not prove who
	// the caller is: unknown, wrong, expired, revoked or disabled. The
	// message never says which, so it cannot be used to probe accounts.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("metadata store closed")
)
