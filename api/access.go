package api

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/flowlake/flowlake/storage/meta"
	"github.com/flowlake/flowlake/storage/query"
)

// access says who may call a route.
type access int

const (
	// public routes need no credentials: probes and login.
	public access = iota
	// authenticated routes need valid credentials and nothing more.
	authenticated
	// permitted routes need credentials holding route.perm.
	permitted
)

// route is one row of the route table: the single place that says which
// permission an endpoint needs, what its mutations are called in the
// audit log, and how the OpenAPI document describes it.
type route struct {
	method, path string
	access       access
	perm         meta.Permission // for permitted routes
	// action names the route's audit entries; every mutation has one.
	action string
	// readOnly marks a POST that changes nothing (a query: its body is
	// the question), so it needs no audit action.
	readOnly bool
	tag      string
	summary  string
	// request and response are zero values of the body types, for the
	// OpenAPI document; nil for none.
	request, response any
	// status is the success status; 0 means 200.
	status  int
	query   []queryParam
	handler echo.HandlerFunc
}

// queryParam documents a query parameter.
type queryParam struct {
	name, description, format string
}

// Route paths.
const (
	PathHealth       = "/healthz"
	PathReady        = "/readyz"
	PathMetrics      = "/metrics"
	PathDatasets     = "/api/v1/datasets"
	PathQuery        = "/api/v1/query"
	PathFlows        = "/api/v1/flows"
	PathTopN         = "/api/v1/topn"
	PathSeries       = "/api/v1/series"
	PathDHCPLeases   = "/api/v1/dhcp/leases"
	PathOpenAPI      = "/api/v1/openapi.json"
	PathLogin        = "/api/v1/login"
	PathLogout       = "/api/v1/logout"
	PathMe           = "/api/v1/me"
	PathMyTokens     = "/api/v1/me/tokens"
	PathMyPassword   = "/api/v1/me/password"
	PathPermissions  = "/api/v1/permissions"
	PathUsers        = "/api/v1/users"
	PathRoles        = "/api/v1/roles"
	PathTokens       = "/api/v1/tokens"
	PathIPGroups     = "/api/v1/ip-groups"
	PathApplications = "/api/v1/applications"
	PathSettings     = "/api/v1/settings"
	PathAudit        = "/api/v1/audit"
	PathIngest       = "/api/v1/ingest/segments"

	PathReportDefinitions = "/api/v1/report-definitions"
	PathReportSchedules   = "/api/v1/report-schedules"
	PathReportRuns        = "/api/v1/report-runs"
	// PathReportArchive lists archived reports; a file downloads from
	// PathReportArchive/{definition}/{kind}/{label}.{format}, its
	// archive key without the "reports/" prefix.
	PathReportArchive = "/api/v1/reports/archive"
)

// routes is the route table. A new endpoint is a new row here (handlers
// may live in their own files); TestAccessMatrix, TestOpenAPIMatchesRoutes
// and TestAuthDocs then ask for its row in the access matrix, which the
// OpenAPI document gets by itself, and in docs/api.md. Registering a route
// on the echo router directly would bypass guard, and those tests fail.
func (s *Server) routes() []route {
	metrics := echo.WrapHandler(promhttp.HandlerFor(s.deps.Registry, promhttp.HandlerOpts{
		ErrorLog:          slogPrintln{s.logger},
		EnableOpenMetrics: true,
	}))
	const (
		get, post, put, patch, del = http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete
	)
	auditQuery := []queryParam{
		{"limit", "entries per page, 1 to 1000 (default 100)", "integer"},
		{"cursor", "the next value of the previous page", "string"},
		{"actor", "only entries of this actor", "string"},
		{"action", "only entries of this action", "string"},
		{"outcome", "success, failure or denied", "string"},
		{"since", "only entries at or after this time (RFC 3339)", "date-time"},
		{"until", "only entries before this time (RFC 3339)", "date-time"},
	}
	gqlEndpoint, gqlPlayground := s.graphQL()
	return []route{
		{method: get, path: PathHealth, access: public, tag: "system", summary: "Liveness: the process serves", response: Status{}, handler: s.health},
		{method: get, path: PathReady, access: public, tag: "system", summary: "Readiness: the lake and metadata store answer", response: Status{}, handler: s.readiness},
		{method: get, path: PathMetrics, access: permitted, perm: meta.PermMetricsRead, tag: "system", summary: "Prometheus metrics (text exposition format)", handler: metrics},
		{method: get, path: PathOpenAPI, access: authenticated, tag: "system", summary: "This API's OpenAPI 3 document", handler: s.openAPIDoc},

		{method: post, path: PathLogin, access: public, action: "login", tag: "auth", summary: "Log in with a name and password; sets the session cookie",
			request: LoginRequest{}, response: LoginResponse{}, handler: s.login},
		{method: post, path: PathLogout, access: authenticated, action: "logout", tag: "auth", summary: "End the session of the cookie", status: http.StatusNoContent, handler: s.logout},
		{method: get, path: PathMe, access: authenticated, tag: "auth", summary: "Who the caller is and what they may do", response: MeResponse{}, handler: s.me},
		{method: post, path: PathMyPassword, access: authenticated, action: "password.change", tag: "auth", summary: "Change the caller's own password; ends their sessions",
			request: PasswordChangeRequest{}, status: http.StatusNoContent, handler: s.changeMyPassword},
		{method: get, path: PathPermissions, access: authenticated, tag: "auth", summary: "Every permission a role can grant", response: PermissionsResponse{}, handler: s.listPermissions},
		{method: get, path: PathMyTokens, access: authenticated, tag: "tokens", summary: "The caller's API tokens", response: TokensResponse{}, handler: s.listMyTokens},
		{method: post, path: PathMyTokens, access: authenticated, action: "token.create", tag: "tokens", summary: "Issue an API token for the caller; the secret is returned once",
			request: TokenRequest{}, response: TokenCreated{}, status: http.StatusCreated, handler: s.createMyToken},
		{method: del, path: PathMyTokens + "/:id", access: authenticated, action: "token.revoke", tag: "tokens", summary: "Revoke one of the caller's tokens", response: meta.Token{}, handler: s.revokeMyToken},

		{method: get, path: PathDatasets, access: permitted, perm: meta.PermAnalysisRead, tag: "data", summary: "Datasets of the lake with their size and time coverage", response: DatasetsResponse{}, handler: s.listDatasets},
		{method: get, path: PathTCPTracePcap, access: permitted, perm: meta.PermAnalysisRead, tag: "data", summary: "A traced TCP connection's kept packets as a pcap file (tcp_conns trace_id)", handler: s.tcptracePcap},
		{method: post, path: PathQuery, access: permitted, perm: meta.PermAnalysisRead, readOnly: true, tag: "data", summary: "Run a query (docs/query.md); JSON, CSV or an Arrow stream by Accept",
			request: query.Query{}, response: QueryResponse{}, query: []queryParam{{"format", "json, csv or arrow; overrides the Accept header", "string"}}, handler: s.postQuery},
		{method: get, path: PathFlows, access: permitted, perm: meta.PermAnalysisRead, tag: "data", summary: "Raw records of a dataset, a page at a time",
			response: QueryResponse{}, query: queryParams(
				queryParam{"columns", "columns, comma-separated (default all)", "string"},
				queryParam{"order", "order, comma-separated; - for descending (default time)", "string"},
				queryParam{"limit", "page size (default 100)", "integer"},
				queryParam{"cursor", "the cursor of the previous page", "string"}), handler: s.getFlows},
		{method: get, path: PathTopN, access: permitted, perm: meta.PermAnalysisRead, tag: "data", summary: "TopN groups of a dataset",
			response: QueryResponse{}, query: queryParams(
				queryParam{"by", "dimensions, comma-separated (src_addr, app, src_net/24 …)", "string"},
				queryParam{"metrics", "metrics, comma-separated (default sum(bytes),count())", "string"},
				queryParam{"order", "order by output columns; - for descending", "string"},
				queryParam{"limit", "N (default: the top_n setting)", "integer"},
				queryParam{"others", "true adds a row for the rest", "boolean"}), handler: s.getTopN},
		{method: get, path: PathSeries, access: permitted, perm: meta.PermAnalysisRead, tag: "data", summary: "Time series of a dataset",
			response: QueryResponse{}, query: queryParams(
				queryParam{"bucket", "bucket: 1m … 12h, 1d, week, month, quarter, year (default 5m)", "string"},
				queryParam{"by", "further dimensions, comma-separated", "string"},
				queryParam{"metrics", "metrics (default bps(),pps())", "string"}), handler: s.getSeries},

		{method: get, path: PathDHCPLeases, access: permitted, perm: meta.PermAnalysisRead, tag: "data", summary: "DHCP lease history: who held an address at a time, its history, what a MAC or host name held",
			response: LeasesResponse{}, query: []queryParam{
				{"address", "the address asked about", "string"},
				{"mac", "or: the client MAC", "string"},
				{"hostname", "or: the client host name", "string"},
				{"at", "one moment (RFC 3339, a date, now, -2h); else from and to", "string"},
				{"from", "start of the range (default -24h)", "string"},
				{"to", "end of the range, exclusive (default now)", "string"},
				{"tz", "IANA zone of dates without a zone (default UTC)", "string"},
				{"lookback", "how far before the range a span may have started (default 30d)", "string"}}, handler: s.getLeases},

		{method: post, path: PathGraphQL, access: authenticated, readOnly: true, tag: "graphql", summary: "GraphQL (docs/graphql.md); fields check their permissions, mutations are audited by action",
			handler: gqlEndpoint},
		{method: get, path: PathGraphQL, access: authenticated, tag: "graphql", summary: "GraphQL queries by GET, and subscriptions over WebSocket (graphql-transport-ws)",
			handler: gqlEndpoint},
		{method: get, path: PathGraphQLPlayground, access: authenticated, tag: "graphql", summary: "The GraphiQL playground page", handler: gqlPlayground},

		{method: get, path: PathUsers, access: permitted, perm: meta.PermUsersRead, tag: "users", summary: "List users", response: UsersResponse{}, handler: s.listUsers},
		{method: post, path: PathUsers, access: permitted, perm: meta.PermUsersWrite, action: "user.create", tag: "users", summary: "Create a user",
			request: UserCreateRequest{}, response: meta.User{}, status: http.StatusCreated, handler: s.createUser},
		{method: get, path: PathUsers + "/:id", access: permitted, perm: meta.PermUsersRead, tag: "users", summary: "Get a user", response: meta.User{}, handler: s.getUser},
		{method: patch, path: PathUsers + "/:id", access: permitted, perm: meta.PermUsersWrite, action: "user.update", tag: "users", summary: "Change a user's display name, role, password or disabled flag",
			request: UserPatchRequest{}, response: meta.User{}, handler: s.updateUser},
		{method: del, path: PathUsers + "/:id", access: permitted, perm: meta.PermUsersWrite, action: "user.delete", tag: "users", summary: "Delete a user with their tokens and sessions", status: http.StatusNoContent, handler: s.deleteUser},

		{method: get, path: PathRoles, access: permitted, perm: meta.PermUsersRead, tag: "roles", summary: "List roles", response: RolesResponse{}, handler: s.listRoles},
		{method: post, path: PathRoles, access: permitted, perm: meta.PermUsersWrite, action: "role.create", tag: "roles", summary: "Create a custom role",
			request: RoleCreateRequest{}, response: meta.Role{}, status: http.StatusCreated, handler: s.createRole},
		{method: get, path: PathRoles + "/:name", access: permitted, perm: meta.PermUsersRead, tag: "roles", summary: "Get a role", response: meta.Role{}, handler: s.getRole},
		{method: put, path: PathRoles + "/:name", access: permitted, perm: meta.PermUsersWrite, action: "role.update", tag: "roles", summary: "Replace a custom role's description and permissions",
			request: RoleUpdateRequest{}, response: meta.Role{}, handler: s.updateRole},
		{method: del, path: PathRoles + "/:name", access: permitted, perm: meta.PermUsersWrite, action: "role.delete", tag: "roles", summary: "Delete a custom role no user holds", status: http.StatusNoContent, handler: s.deleteRole},

		{method: get, path: PathTokens, access: permitted, perm: meta.PermUsersRead, tag: "tokens", summary: "List every user's API tokens",
			query: []queryParam{{"user_id", "only this user's tokens", "string"}}, response: TokensResponse{}, handler: s.listTokens},
		{method: post, path: PathTokens, access: permitted, perm: meta.PermUsersWrite, action: "token.create", tag: "tokens", summary: "Issue an API token for any user; the secret is returned once",
			request: AdminTokenRequest{}, response: TokenCreated{}, status: http.StatusCreated, handler: s.createToken},
		{method: get, path: PathTokens + "/:id", access: permitted, perm: meta.PermUsersRead, tag: "tokens", summary: "Get a token's metadata", response: meta.Token{}, handler: s.getToken},
		{method: del, path: PathTokens + "/:id", access: permitted, perm: meta.PermUsersWrite, action: "token.revoke", tag: "tokens", summary: "Revoke any token", response: meta.Token{}, handler: s.revokeToken},

		{method: get, path: PathReportDefinitions, access: permitted, perm: meta.PermReportsRead, tag: "reports", summary: "List report definitions", response: ReportDefinitionsResponse{}, handler: s.listReportDefinitions},
		{method: post, path: PathReportDefinitions, access: permitted, perm: meta.PermReportsWrite, action: "report_definition.create", tag: "reports", summary: "Define a report: type, settings, formats",
			request: meta.ReportDefinitionInput{}, response: meta.ReportDefinition{}, status: http.StatusCreated, handler: s.createReportDefinition},
		{method: get, path: PathReportDefinitions + "/:id", access: permitted, perm: meta.PermReportsRead, tag: "reports", summary: "Get a report definition", response: meta.ReportDefinition{}, handler: s.getReportDefinition},
		{method: put, path: PathReportDefinitions + "/:id", access: permitted, perm: meta.PermReportsWrite, action: "report_definition.update", tag: "reports", summary: "Replace a report definition",
			request: meta.ReportDefinitionInput{}, response: meta.ReportDefinition{}, handler: s.updateReportDefinition},
		{method: del, path: PathReportDefinitions + "/:id", access: permitted, perm: meta.PermReportsWrite, action: "report_definition.delete", tag: "reports", summary: "Delete a report definition no schedule uses", status: http.StatusNoContent, handler: s.deleteReportDefinition},
		{method: get, path: PathReportSchedules, access: permitted, perm: meta.PermReportsRead, tag: "reports", summary: "List report schedules", response: ReportSchedulesResponse{}, handler: s.listReportSchedules},
		{method: post, path: PathReportSchedules, access: permitted, perm: meta.PermReportsWrite, action: "report_schedule.create", tag: "reports", summary: "Schedule a report: period, zone, cron, recipients",
			request: meta.ReportScheduleInput{}, response: meta.ReportSchedule{}, status: http.StatusCreated, handler: s.createReportSchedule},
		{method: get, path: PathReportSchedules + "/:id", access: permitted, perm: meta.PermReportsRead, tag: "reports", summary: "Get a report schedule", response: meta.ReportSchedule{}, handler: s.getReportSchedule},
		{method: put, path: PathReportSchedules + "/:id", access: permitted, perm: meta.PermReportsWrite, action: "report_schedule.update", tag: "reports", summary: "Replace a report schedule",
			request: meta.ReportScheduleInput{}, response: meta.ReportSchedule{}, handler: s.updateReportSchedule},
		{method: del, path: PathReportSchedules + "/:id", access: permitted, perm: meta.PermReportsWrite, action: "report_schedule.delete", tag: "reports", summary: "Delete a report schedule and its run records", status: http.StatusNoContent, handler: s.deleteReportSchedule},
		{method: get, path: PathReportRuns, access: permitted, perm: meta.PermReportsRead, tag: "reports", summary: "Runs of report schedules, newest first, with status and error",
			query:    []queryParam{{"schedule_id", "only this schedule's runs", "string"}, {"limit", "at most this many (default 100, at most 1000)", "integer"}},
			response: ReportRunsResponse{}, handler: s.listReportRuns},
		{method: get, path: PathReportArchive, access: permitted, perm: meta.PermReportsRead, tag: "reports", summary: "Archived reports, newest period first",
			query: []queryParam{{"definition_id", "only this definition's reports", "string"}}, response: ArchiveResponse{}, handler: s.listArchive},
		{method: get, path: PathReportArchive + "/:definition/:kind/:file", access: permitted, perm: meta.PermReportsRead, tag: "reports", summary: "Download an archived report (HTML, PDF, XLSX or CSV)", handler: s.downloadArchived},

		{method: get, path: PathIPGroups, access: permitted, perm: meta.PermObjectsRead, tag: "objects", summary: "List IP groups", response: IPGroupsResponse{}, handler: s.listIPGroups},
		{method: post, path: PathIPGroups, access: permitted, perm: meta.PermObjectsWrite, action: "ip_group.create", tag: "objects", summary: "Create an IP group",
			request: meta.IPGroupInput{}, response: meta.IPGroup{}, status: http.StatusCreated, handler: s.createIPGroup},
		{method: get, path: PathIPGroups + "/:id", access: permitted, perm: meta.PermObjectsRead, tag: "objects", summary: "Get an IP group", response: meta.IPGroup{}, handler: s.getIPGroup},
		{method: put, path: PathIPGroups + "/:id", access: permitted, perm: meta.PermObjectsWrite, action: "ip_group.update", tag: "objects", summary: "Replace an IP group",
			request: meta.IPGroupInput{}, response: meta.IPGroup{}, handler: s.updateIPGroup},
		{method: del, path: PathIPGroups + "/:id", access: permitted, perm: meta.PermObjectsWrite, action: "ip_group.delete", tag: "objects", summary: "Delete an IP group", status: http.StatusNoContent, handler: s.deleteIPGroup},

		{method: get, path: PathApplications, access: permitted, perm: meta.PermObjectsRead, tag: "objects", summary: "List applications (business services)", response: ApplicationsResponse{}, handler: s.listApplications},
		{method: post, path: PathApplications, access: permitted, perm: meta.PermObjectsWrite, action: "application.create", tag: "objects", summary: "Define an application by addresses, ports and protocol",
			request: meta.ApplicationInput{}, response: meta.Application{}, status: http.StatusCreated, handler: s.createApplication},
		{method: get, path: PathApplications + "/:id", access: permitted, perm: meta.PermObjectsRead, tag: "objects", summary: "Get an application", response: meta.Application{}, handler: s.getApplication},
		{method: put, path: PathApplications + "/:id", access: permitted, perm: meta.PermObjectsWrite, action: "application.update", tag: "objects", summary: "Replace an application",
			request: meta.ApplicationInput{}, response: meta.Application{}, handler: s.updateApplication},
		{method: del, path: PathApplications + "/:id", access: permitted, perm: meta.PermObjectsWrite, action: "application.delete", tag: "objects", summary: "Delete an application", status: http.StatusNoContent, handler: s.deleteApplication},

		{method: get, path: PathSettings, access: permitted, perm: meta.PermConfigRead, tag: "settings", summary: "The system settings", response: meta.Settings{}, handler: s.getSettings},
		{method: patch, path: PathSettings, access: permitted, perm: meta.PermConfigWrite, action: "settings.update", tag: "settings", summary: "Change some settings; the result is validated as a whole",
			request: meta.SettingsPatch{}, response: meta.Settings{}, handler: s.updateSettings},

		{method: put, path: PathIngest + "/:id", access: permitted, perm: meta.PermIngestWrite, action: "ingest.segment", tag: "ingest",
			summary: "Upload one Parquet segment of an edge's spool; validated, then published idempotently by id", response: IngestResult{}, handler: s.ingestSegment},
		{method: post, path: PathCloudState, access: permitted, perm: meta.PermIngestWrite, action: "ingest.cloud_state", tag: "ingest",
			summary:  "Push a device's 'display cloud-management state' text; parsed into cloud_conn rows",
			query:    []queryParam{{"edge", "the edge that collected it (the caller must write for it)", "string"}, {"device", "device name or serial (default: the display's prompt)", "string"}},
			response: CloudStateResult{}, handler: s.ingestCloudState},
		{method: post, path: PathTCPTraceState, access: permitted, perm: meta.PermIngestWrite, action: "ingest.tcptrace", tag: "ingest",
			summary:  "Push a device's 'display tcp trace' output; parsed into tcp_conns and tcp_packets rows",
			query:    []queryParam{{"edge", "the edge that collected it (the caller must write for it)", "string"}, {"device", "device name (default: the output's prompt)", "string"}},
			response: TCPTraceResult{}, handler: s.ingestTCPTrace},

		{method: get, path: PathEdges, access: permitted, perm: meta.PermConfigRead, tag: "edges", summary: "Edges holding a tunnel to this core, each with the state pulled over its tunnel", response: EdgesResponse{}, handler: s.listEdges},
		{method: post, path: PathEdges + "/:id/config", access: permitted, perm: meta.PermConfigWrite, action: "edge.config", tag: "edges", summary: "Push configuration to an edge over its tunnel; applied without a restart",
			request: EdgeConfigRequest{}, handler: s.pushEdgeConfig},
		{method: post, path: PathEdges + "/:id/commands", access: permitted, perm: meta.PermConfigWrite, action: "edge.command", tag: "edges", summary: "Run a remote command on an edge over its tunnel",
			request: EdgeCommandRequest{}, handler: s.runEdgeCommand},
		{method: get, path: PathEdges + "/:id/dhcp/bindings", access: permitted, perm: meta.PermAnalysisRead, tag: "edges", summary: "An edge's DHCP binding table (the snooping table), asked over its tunnel, a page at a time by address",
			response: EdgeDHCPBindingsResponse{}, query: []queryParam{
				{"ip", "only the binding of this address", "string"},
				{"mac", "only the bindings of this client MAC", "string"},
				{"after", "the page after this address (the previous page's next)", "string"},
				{"limit", "page size, 1-2000 (default 500)", "integer"}}, handler: s.getEdgeDHCPBindings},
		{method: get, path: PathEdgeAdmissions, access: permitted, perm: meta.PermConfigRead, tag: "edges", summary: "The tunnel's allow-list of edge serials", response: AdmissionsResponse{}, handler: s.listAdmissions},
		{method: post, path: PathEdgeAdmissions, access: permitted, perm: meta.PermConfigWrite, action: "edge.admit", tag: "edges", summary: "Admit an edge serial; its one-time enrolment secret is returned once",
			request: AdmitRequest{}, response: AdmitResponse{}, status: http.StatusCreated, handler: s.admitEdge},
		{method: del, path: PathEdgeAdmissions + "/:id", access: permitted, perm: meta.PermConfigWrite, action: "edge.revoke", tag: "edges", summary: "Remove an edge serial from the allow-list, bound or not", status: http.StatusNoContent, handler: s.revokeAdmission},
		{method: post, path: PathEdgeAdmissions + "/:id/unbind-code", access: permitted, perm: meta.PermConfigWrite, action: "edge.unbind_code", tag: "edges", summary: "Issue the code that unbinds a bound edge; returned once",
			request: UnbindCodeRequest{}, response: UnbindCodeResponse{}, status: http.StatusCreated, handler: s.issueUnbindCode},

		{method: get, path: PathAudit, access: permitted, perm: meta.PermAuditRead, tag: "audit", summary: "The audit log, newest first, one page at a time",
			query: auditQuery, response: meta.AuditPage{}, handler: s.listAudit},
	}
}
