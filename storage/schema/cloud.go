package schema

// Cloud connection states (display cloud-management state: Cloud connection state).
const (
	CloudUnconnected = "Unconnected"
	CloudRequest     = "Request"
	CloudEstablished = "Established"
)

// CloudDeviceStates lists the device states the device displays, in the order
// of a successful connection.
func CloudDeviceStates() []string {
	return []string{"Idle", "Connecting", "Request_CAS_url", "Request_CAS_url_success", "Request_CAS_TGT",
		"Request_CAS_TGT_success", "Request_CAS_ST", "Request_CAS_ST_success", "Request_cloud_auth",
		"Request_cloud_auth_success", "Register", "Register_success", "Request", "Request_success"}
}

// CloudDownReasons lists the "Last down reason" values of the device documents.
func CloudDownReasons() []string {
	return []string{"Device or process rebooted", "Socket connection error", "Configuration changed",
		"Received websocket close packet from cloud", "Keepalive expired", "Packet processing failed",
		"Main connection went down", "Cloud reset connection", "Memory reached threshold"}
}

// CloudFailureReasons lists the "Failure reason" values of the device documents.
func CloudFailureReasons() []string {
	return []string{"DNS parse failed", "Socket connection failed", "SSL creation failed",
		"Sending CAS url request failed", "Sending CAS TGT failed", "Sending CAS ST failed",
		"Sending cloud auth failed", "Sending register failed", "Processing CAS url response failed",
		"Processing CAS TGT response failed", "Processing CAS ST response failed",
		"Processing cloud auth response failed", "Processing register response failed",
		"Sending handshake request failed", "Processing handshake failed",
		"Sending websocket request failed", "Processing websocket packet failed"}
}

// CloudConn is one row of the `cloud_conn` dataset: one observed state of a
// device-to-cloud management connection, as `display cloud-management state`
// shows it.
type CloudConn struct {
	Time                       int64  `parquet:"time,timestamp(microsecond),delta" unit:"µs since epoch, UTC" doc:"When the state was observed." origin:"poll or push time"`
	Edge                       string `parquet:"edge,dict" doc:"Serial or id of the edge agent that collected the record." origin:"edge configuration"`
	Device                     string `parquet:"device,dict" doc:"Serial number of the device whose connection this is." origin:"device serial"`
	ConnState                  string `parquet:"conn_state,dict" unit:"Unconnected Request Established" doc:"Cloud connection state." origin:"Cloud connection state"`
	DeviceState                string `parquet:"device_state,dict" unit:"Idle … Request_success" doc:"Device state in the connection procedure." origin:"Device state"`
	ServerAddr                 Addr   `parquet:"server_addr,optional,dict" unit:"IPv4-mapped IPv6" doc:"Cloud server address; null before DNS resolution." origin:"Cloud server address"`
	ServerDomain               string `parquet:"server_domain,dict" doc:"Cloud server domain name." origin:"Cloud server domain name"`
	ConnMode                   string `parquet:"conn_mode,dict" doc:"Connection mode (Https, Http)." origin:"Cloud connection mode"`
	AuthPort                   uint16 `parquet:"auth_port,dict" doc:"TCP port of the authentication (default 19443)." origin:"Cloud server authentication port"`
	ConnPort                   uint16 `parquet:"conn_port,dict" doc:"TCP port of the connection (default 443)." origin:"Cloud server connection port / Local port"`
	ConnectedAt                int64  `parquet:"connected_at,optional,timestamp(microsecond)" unit:"µs since epoch, UTC" doc:"When the connection was established; null when not connected." origin:"Connected at"`
	DurationS                  uint32 `parquet:"duration_s" unit:"s" doc:"How long the connection has been up." origin:"Duration (00d 00h 02m 01s)"`
	ProcessState               string `parquet:"process_state,dict" doc:"Procedure state (DNS not parsed … Message received)." origin:"Process state"`
	FailureReason              string `parquet:"failure_reason,optional,dict" doc:"Why the connection failed; null for N/A." origin:"Failure reason"`
	LastDownReason             string `parquet:"last_down_reason,optional,dict" doc:"Why the connection last went down; null for N/A." origin:"Last down reason"`
	LastDownDetail             string `parquet:"last_down_detail,optional,dict" doc:"Details the device gives with the down reason; null for N/A." origin:"Last down reason (Details:…)"`
	LastDownAt                 int64  `parquet:"last_down_at,optional,timestamp(microsecond)" unit:"µs since epoch, UTC" doc:"When the connection last went down; null for N/A." origin:"Last down at"`
	LastReportFailureReason    string `parquet:"last_report_failure_reason,optional,dict" doc:"Why the last report failed to send; null for N/A." origin:"Last report failure reason"`
	LastReportFailureAt        int64  `parquet:"last_report_failure_at,optional,timestamp(microsecond)" unit:"µs since epoch, UTC" doc:"When the last report failed; null for N/A." origin:"Last report failure at"`
	LastReportIncompleteReason string `parquet:"last_report_incomplete_reason,optional,dict" doc:"Why the last report was sent incompletely; null for N/A." origin:"Last report incomplete reason"`
	LastReportIncompleteAt     int64  `parquet:"last_report_incomplete_at,optional,timestamp(microsecond)" unit:"µs since epoch, UTC" doc:"When the last report was incomplete; null for N/A." origin:"Last report incomplete at"`
	DroppedBufferLimit         uint64 `parquet:"dropped_buffer_limit" unit:"packets" doc:"Packets dropped after reaching the buffer limit." origin:"Dropped packets after reaching buffer limit"`
	DroppedTotal               uint64 `parquet:"dropped_total" unit:"packets" doc:"All dropped packets." origin:"Total dropped packets"`
	BufferFullCount            uint64 `parquet:"buffer_full_count" doc:"Times the buffer was full." origin:"Buffer full count"`
	BackupServer               bool   `parquet:"backup_server" doc:"Whether a backup server (not the primary) carries the connection." origin:"derived from the connected server's position"`
	ServerIndex                uint8  `parquet:"server_index,dict" unit:"0 primary, 1–8 backups" doc:"Position of the connected server in the failover order." origin:"configuration order"`
}

// Column names of the cloud_conn dataset that code refers to by name.
const (
	CloudConnState      = "conn_state"
	CloudLastDownReason = "last_down_reason"
)
