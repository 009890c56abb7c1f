package tunnel

// Paths of the authentication port (HTTPS) and the connection port.
const (
	PathAuth     = "/cloud/v1/auth"
	PathRegister = "/cloud/v1/register"
	PathUnbind   = "/cloud/v1/unbind"
	PathTunnel   = "/cloud/v1/tunnel"
)

// Headers of the tunnel handshake.
const (
	HeaderSerial    = "X-Flowlake-Serial"
	HeaderKeepalive = "X-Flowlake-Keepalive"
)

// AuthRequest is the body of POST PathAuth: the edge's serial and its
// secret (the enrolment secret until bound, then its credential).
type AuthRequest struct {
	Serial string `json:"serial"`
	Secret string `json:"secret"`
}

// AuthResponse answers a successful authentication with a single-use
// ticket for registration, valid for a minute.
type AuthResponse struct {
	Ticket string `json:"ticket"`
	Bound  bool   `json:"bound"`
}

// RegisterRequest is the body of POST PathRegister.
type RegisterRequest struct {
	Serial string `json:"serial"`
	Ticket string `json:"ticket"`
	// Enroll is the enrolment secret of an edge not yet bound: the core
	// binds it and answers its credential.
	Enroll string `json:"enroll,omitempty"`
}

// RegisterResponse carries the tunnel's URL and, on the first
// registration, the edge's credential (shown once; the edge keeps it).
type RegisterResponse struct {
	URL        string `json:"url"`
	Credential string `json:"credential,omitempty"`
}

// UnbindRequest is the body of POST PathUnbind: the edge's serial, its
// credential and the unbinding code the core's administrator issued.
type UnbindRequest struct {
	Serial     string `json:"serial"`
	Credential string `json:"credential"`
	Code       string `json:"code"`
}

// ErrorResponse is the body of every refusal on the authentication port.
type ErrorResponse struct {
	Error string `json:"error"`
}
