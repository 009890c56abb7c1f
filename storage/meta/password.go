package meta

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Password limits. The upper bound keeps a request from making the server
// hash megabytes.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 1024
)

const (
	argonSaltLen = 16
	argonKeyLen  = 32
)

// hashPassword returns the argon2id hash of password as a PHC string:
// $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>, salt and hash
// in unpadded standard base64 (the format of the reference implementation
// and of libsodium, so hashes can be checked by other tools).
func hashPassword(password string, p PasswordParams) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Iterations, p.MemoryKiB, p.Parallelism, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Iterations, p.Parallelism, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// errBadHash is a stored hash that is not an argon2id PHC string we can
// check: a corrupt row, not a wrong password.
var errBadHash = errors.New("stored password hash is not an argon2id PHC string")

// checkPassword reports whether password matches the PHC string phc. The
// comparison takes constant time in the hash bytes.
func checkPassword(phc, password string) (bool, error) {
	parts := strings.Split(phc, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, fmt.Errorf("%w: version %q", errBadHash, parts[2])
	}
	var p PasswordParams
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Iterations, &p.Parallelism); err != nil {
		return false, fmt.Errorf("%w: parameters %q", errBadHash, parts[3])
	}
	if err := p.Validate(); err != nil {
		return false, fmt.Errorf("%w: %w", errBadHash, err)
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return false, fmt.Errorf("%w: salt", errBadHash)
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) < 16 {
		return false, fmt.Errorf("%w: hash", errBadHash)
	}
	got := argon2.IDKey([]byte(password), salt, p.Iterations, p.MemoryKiB, p.Parallelism, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// validatePassword checks a new password's length; it says nothing else
// about it, following NIST SP 800-63B (length over composition rules).
func validatePassword(pw string) error {
	n := utf8.RuneCountInString(pw)
	switch {
	case !utf8.ValidString(pw):
		return fmt.Errorf("%w: password: not valid UTF-8", ErrInvalid)
	case n < MinPasswordLen:
		return fmt.Errorf("%w: password: %d characters, want at least %d", ErrInvalid, n, MinPasswordLen)
	case len(pw) > MaxPasswordLen:
		return fmt.Errorf("%w: password: longer than %d bytes", ErrInvalid, MaxPasswordLen)
	}
	return nil
}
