package api

import "github.com/flowlake/flowlake/graph"

// graphAdmissions is the allow-list GraphQL's edgeAdmissions and the
// admission mutations manage: the metadata store the REST routes under
// PathEdgeAdmissions use, so both change the same list.
func (s *Server) graphAdmissions() graph.AdmissionStore {
	return s.deps.Meta
}
