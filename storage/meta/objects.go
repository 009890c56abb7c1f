package meta

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// IPGroup is a named set of addresses ("every host of the finance
// department"), which queries, reports and alerts refer to.
type IPGroup struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	// Members are CIDR prefixes, single addresses and ranges, IPv4 and
	// IPv6, in normal form (see ParseAddressRange).
	Members   []string  `json:"members"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// IPGroupInput is what CreateIPGroup and UpdateIPGroup take.
type IPGroupInput struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Members     []string `json:"members"`
}

// Application is a business service defined as an object (the brief's
// "name, addresses, ports"), so its traffic can be queried by name.
type Application struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	// Protocol is "any", a protocol name (tcp, udp, ...) or a number.
	Protocol string `json:"protocol"`
	// Addresses are the service's server addresses (as IP group members);
	// empty means any address.
	Addresses []string `json:"addresses"`
	// Ports are the service's ports and port ranges; empty means any port.
	Ports     []string  `json:"ports"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ApplicationInput is what CreateApplication and UpdateApplication take.
type ApplicationInput struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Protocol    string   `json:"protocol"`
	Addresses   []string `json:"addresses"`
	Ports       []string `json:"ports"`
}

// validateObjectName checks the name of an IP group or application: free
// text (any script) of 1 to 128 bytes without control characters.
func validateObjectName(kind, name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 128 {
		return "", fmt.Errorf("%w: %s name: want 1 to 128 bytes", ErrInvalid, kind)
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return "", fmt.Errorf("%w: %s name %q: control characters", ErrInvalid, kind, name)
	}
	return name, nil
}

func (in IPGroupInput) normalize() (IPGroupInput, error) {
	name, err := validateObjectName("ip group", in.Name)
	if err != nil {
		return in, err
	}
	members, err := normalizeAddresses("members", in.Members)
	if err != nil {
		return in, fmt.Errorf("ip group %q: %w", name, err)
	}
	if len(members) == 0 {
		return in, fmt.Errorf("%w: ip group %q: members: empty", ErrInvalid, name)
	}
	return IPGroupInput{Name: name, Description: in.Description, Members: members}, nil
}

func (in ApplicationInput) normalize() (ApplicationInput, error) {
	name, err := validateObjectName("application", in.Name)
	if err != nil {
		return in, err
	}
	proto, err := NormalizeProtocol(in.Protocol)
	if err != nil {
		return in, fmt.Errorf("%w: application %q: %w", ErrInvalid, name, err)
	}
	addrs, err := normalizeAddresses("addresses", in.Addresses)
	if err != nil {
		return in, fmt.Errorf("application %q: %w", name, err)
	}
	ports := make([]string, 0, len(in.Ports))
	seen := map[string]bool{}
	for i, p := range in.Ports {
		r, err := ParsePortRange(p)
		if err != nil {
			return in, fmt.Errorf("%w: application %q: ports[%d]: %w", ErrInvalid, name, i, err)
		}
		if s := r.String(); !seen[s] {
			seen[s] = true
			ports = append(ports, s)
		}
	}
	if len(ports) > 0 && proto != "any" && proto != "tcp" && proto != "udp" && proto != "sctp" {
		return in, fmt.Errorf("%w: application %q: protocol %s has no ports", ErrInvalid, name, proto)
	}
	if len(addrs) == 0 && len(ports) == 0 {
		return in, fmt.Errorf("%w: application %q: give addresses, ports or both", ErrInvalid, name)
	}
	return ApplicationInput{Name: name, Description: in.Description, Protocol: proto, Addresses: addrs, Ports: ports}, nil
}

func jsonText(v []string) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

func fromJSONText(s string) ([]string, error) {
	out := []string{}
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, err
	}
	return out, nil
}

// CreateIPGroup adds an IP group; names are unique.
func (s *Store) CreateIPGroup(ctx context.Context, in IPGroupInput) (IPGroup, error) {
	in, err := in.normalize()
	if err != nil {
		return IPGroup{}, fmt.Errorf("create ip group: %w", err)
	}
	members, err := jsonText(in.Members)
	if err != nil {
		return IPGroup{}, err
	}
	now := s.nowTime()
	g := IPGroup{ID: s.newID(), Name: in.Name, Description: in.Description, Members: in.Members, CreatedAt: now, UpdatedAt: now}
	_, err = s.exec(ctx, `INSERT INTO ip_groups (id, name, description, members, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
		g.ID, g.Name, g.Description, members, micros(now), micros(now))
	if err != nil {
		return IPGroup{}, fmt.Errorf("create ip group %q: %w", in.Name, err)
	}
	return g, nil
}

const ipGroupColumns = `id, name, description, members, created_at, updated_at`

func scanIPGroup(sc scanner) (IPGroup, error) {
	var g IPGroup
	var members string
	var created, updated int64
	if err := sc.Scan(&g.ID, &g.Name, &g.Description, &members, &created, &updated); err != nil {
		return IPGroup{}, err
	}
	m, err := fromJSONText(members)
	if err != nil {
		return IPGroup{}, fmt.Errorf("ip group %s: stored members: %w", g.ID, err)
	}
	g.Members, g.CreatedAt, g.UpdatedAt = m, fromMicros(created), fromMicros(updated)
	return g, nil
}

// GetIPGroup returns the IP group with the given ID.
func (s *Store) GetIPGroup(ctx context.Context, id string) (IPGroup, error) {
	return queryOne(ctx, s, "get ip group", id, "ip group", scanIPGroup, `SELECT `+ipGroupColumns+` FROM ip_groups WHERE id = ?`, id)
}

// ListIPGroups returns every IP group, by name.
func (s *Store) ListIPGroups(ctx context.Context) ([]IPGroup, error) {
	return queryAll(ctx, s, "list ip groups", scanIPGroup, `SELECT `+ipGroupColumns+` FROM ip_groups ORDER BY name`)
}

// UpdateIPGroup replaces an IP group's name, description and members.
func (s *Store) UpdateIPGroup(ctx context.Context, id string, in IPGroupInput) (IPGroup, error) {
	in, err := in.normalize()
	if err != nil {
		return IPGroup{}, fmt.Errorf("update ip group %s: %w", id, err)
	}
	members, err := jsonText(in.Members)
	if err != nil {
		return IPGroup{}, err
	}
	res, err := s.exec(ctx, `UPDATE ip_groups SET name = ?, description = ?, members = ?, updated_at = ? WHERE id = ?`,
		in.Name, in.Description, members, micros(s.nowTime()), id)
	if err := affectedOne(res, err, "ip group"); err != nil {
		return IPGroup{}, fmt.Errorf("update ip group %q: %w", id, err)
	}
	return s.GetIPGroup(ctx, id)
}

// DeleteIPGroup deletes an IP group.
func (s *Store) DeleteIPGroup(ctx context.Context, id string) error {
	return s.deleteByID(ctx, "ip_groups", "ip group", id)
}

// CreateApplication adds an application; names are unique.
func (s *Store) CreateApplication(ctx context.Context, in ApplicationInput) (Application, error) {
	in, err := in.normalize()
	if err != nil {
		return Application{}, fmt.Errorf("create application: %w", err)
	}
	addrs, err := jsonText(in.Addresses)
	if err != nil {
		return Application{}, err
	}
	ports, err := jsonText(in.Ports)
	if err != nil {
		return Application{}, err
	}
	now := s.nowTime()
	a := Application{ID: s.newID(), Name: in.Name, Description: in.Description, Protocol: in.Protocol,
		Addresses: in.Addresses, Ports: in.Ports, CreatedAt: now, UpdatedAt: now}
	_, err = s.exec(ctx, `INSERT INTO applications (id, name, description, protocol, addresses, ports, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, a.ID, a.Name, a.Description, a.Protocol, addrs, ports, micros(now), micros(now))
	if err != nil {
		return Application{}, fmt.Errorf("create application %q: %w", in.Name, err)
	}
	return a, nil
}

const applicationColumns = `id, name, description, protocol, addresses, ports, created_at, updated_at`

func scanApplication(sc scanner) (Application, error) {
	var a Application
	var addrs, ports string
	var created, updated int64
	if err := sc.Scan(&a.ID, &a.Name, &a.Description, &a.Protocol, &addrs, &ports, &created, &updated); err != nil {
		return Application{}, err
	}
	var err error
	if a.Addresses, err = fromJSONText(addrs); err != nil {
		return Application{}, fmt.Errorf("application %s: stored addresses: %w", a.ID, err)
	}
	if a.Ports, err = fromJSONText(ports); err != nil {
		return Application{}, fmt.Errorf("application %s: stored ports: %w", a.ID, err)
	}
	a.CreatedAt, a.UpdatedAt = fromMicros(created), fromMicros(updated)
	return a, nil
}

// GetApplication returns the application with the given ID.
func (s *Store) GetApplication(ctx context.Context, id string) (Application, error) {
	return queryOne(ctx, s, "get application", id, "application", scanApplication, `SELECT `+applicationColumns+` FROM applications WHERE id = ?`, id)
}

// ListApplications returns every application, by name.
func (s *Store) ListApplications(ctx context.Context) ([]Application, error) {
	return queryAll(ctx, s, "list applications", scanApplication, `SELECT `+applicationColumns+` FROM applications ORDER BY name`)
}

// UpdateApplication replaces an application's definition.
func (s *Store) UpdateApplication(ctx context.Context, id string, in ApplicationInput) (Application, error) {
	in, err := in.normalize()
	if err != nil {
		return Application{}, fmt.Errorf("update application %s: %w", id, err)
	}
	addrs, err := jsonText(in.Addresses)
	if err != nil {
		return Application{}, err
	}
	ports, err := jsonText(in.Ports)
	if err != nil {
		return Application{}, err
	}
	res, err := s.exec(ctx, `UPDATE applications SET name = ?, description = ?, protocol = ?, addresses = ?, ports = ?, updated_at = ?
		WHERE id = ?`, in.Name, in.Description, in.Protocol, addrs, ports, micros(s.nowTime()), id)
	if err := affectedOne(res, err, "application"); err != nil {
		return Application{}, fmt.Errorf("update application %q: %w", id, err)
	}
	return s.GetApplication(ctx, id)
}

// DeleteApplication deletes an application.
func (s *Store) DeleteApplication(ctx context.Context, id string) error {
	return s.deleteByID(ctx, "applications", "application", id)
}

// affectedOne turns an update or delete that matched no row into
// ErrNotFound.
func affectedOne(res interface{ RowsAffected() (int64, error) }, err error, what string) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return nil
}
