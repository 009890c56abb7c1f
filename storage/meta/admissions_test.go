package meta

import (
	"testing"
	"time"
)

// TestEdgeAdmissionLifecycle walks a serial through the allow-list:
// unknown serial refused, admitted, enrolment secret bound once (a
// replayed registration refused), credential accepted, unbinding with a
// wrong or expired code refused, with the right one done — and then the
// edge must be admitted again.
func TestEdgeAdmissionLifecycle(t *testing.T) {
	s, clk := openTest(t)
	ctx := t.Context()
	const serial = "219801A0YF9187Q00012"
	if _, err := s.AuthenticateEdge(ctx, serial, EnrollPrefix+"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"); err == nil {
		t.Fatal("an unknown serial authenticated")
	}
	for _, bad := range []string{"", "bad/serial", ".hidden", "tab\tserial", string(make([]byte, 65))} {
		_, err := s.AdmitEdge(ctx, bad, "admin")
		wantErr(t, err, ErrInvalid, "")
	}
	enroll, err := s.AdmitEdge(ctx, serial, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if bound, err := s.AuthenticateEdge(ctx, serial, enroll); err != nil || bound {
		t.Fatalf("enrolment secret: bound %v, %v", bound, err)
	}
	cred, err := s.BindEdge(ctx, serial, enroll)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.BindEdge(ctx, serial, enroll)
	wantErr(t, err, ErrUnauthenticated, "")
	_, err = s.AuthenticateEdge(ctx, serial, enroll)
	wantErr(t, err, ErrUnauthenticated, "")
	if bound, err := s.AuthenticateEdge(ctx, serial, cred); err != nil || !bound {
		t.Fatalf("credential: bound %v, %v", bound, err)
	}
	_, err = s.AdmitEdge(ctx, serial, "admin")
	wantErr(t, err, ErrConflict, "unbind it first")

	code, err := s.IssueUnbindCode(ctx, serial, 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.IssueUnbindCode(ctx, "no-such-edge", time.Minute)
	wantErr(t, err, ErrNotFound, "")
	wantErr(t, s.UnbindEdge(ctx, serial, cred, UnbindPrefix+"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), ErrUnauthenticated, "wrong or expired code")
	clk.Advance(16 * time.Minute)
	wantErr(t, s.UnbindEdge(ctx, serial, cred, code), ErrUnauthenticated, "wrong or expired code")
	code, err = s.IssueUnbindCode(ctx, serial, 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	list, err := s.ListAdmissions(ctx)
	if err != nil || len(list) != 1 || !list[0].Bound || !list[0].UnbindPending {
		t.Fatalf("admissions: %+v, %v", list, err)
	}
	if err := s.UnbindEdge(ctx, serial, cred, code); err != nil {
		t.Fatal(err)
	}
	_, err = s.AuthenticateEdge(ctx, serial, cred)
	wantErr(t, err, ErrUnauthenticated, "")
	if list, _ := s.ListAdmissions(ctx); len(list) != 0 {
		t.Errorf("unbinding left the admission: %+v", list)
	}
	wantErr(t, s.RevokeAdmission(ctx, serial), ErrNotFound, "")
}
