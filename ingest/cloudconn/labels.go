package cloudconn

import (
	"strings"

	"github.com/flowlake/flowlake/storage/schema"
)

// field is one line of the display.
type field int

const (
	fConnState field = iota
	fDeviceState
	fServerAddr
	fDomain
	fMode
	fAuthPort
	fConnPort
	fLocalPort
	fConnectedAt
	fDuration
	fProcessState
	fFailure
	fDownReason
	fDownAt
	fReportFailure
	fReportFailureAt
	fDroppedBufferLimit
	fDroppedTotal
	fIncomplete
	fIncompleteAt
	fBufferFull
	numFields
)

// englishLabels are the labels of the configuration guide's sample, the
// complete layout, in its order; Format prints them so. "Local port" is
// the command reference's name of the connection port.
var englishLabels = [numFields]string{
	fConnState:          "Cloud connection state",
	fDeviceState:        "Device state",
	fServerAddr:         "Cloud server address",
	fDomain:             "Cloud server domain name",
	fMode:               "Cloud connection mode",
	fAuthPort:           "Cloud server authentication port",
	fConnPort:           "Cloud server connection port",
	fLocalPort:          "Local port",
	fConnectedAt:        "Connected at",
	fDuration:           "Duration",
	fProcessState:       "Process state",
	fFailure:            "Failure reason",
	fDownReason:         "Last down reason",
	fDownAt:             "Last down at",
	fReportFailure:      "Last report failure reason",
	fReportFailureAt:    "Last report failure at",
	fDroppedBufferLimit: "Dropped packets after reaching buffer limit",
	fDroppedTotal:       "Total dropped packets",
	fIncomplete:         "Last report incomplete reason",
	fIncompleteAt:       "Last report incomplete at",
	fBufferFull:         "Buffer full count",
}

// chineseLabels are the Chinese names of the fields, taken from the
// command reference's field descriptions (表1-1), in long and short form.
var chineseLabels = map[string]field{
	"云平台连接状态":    fConnState,
	"设备状态":       fDeviceState,
	"云平台服务器地址":   fServerAddr,
	"云平台服务器域名":   fDomain,
	"云平台连接模式":    fMode,
	"连接模式":       fMode,
	"云平台服务器认证端口": fAuthPort,
	"认证端口":       fAuthPort,
	"云平台服务器连接端口": fConnPort,
	"连接端口":       fConnPort,
	"本地端口":       fLocalPort,
	"与云平台服务器建立连接所使用的tcp端口号": fLocalPort,
	"云平台连接的建立时间":            fConnectedAt,
	"建立时间":                  fConnectedAt,
	"云平台连接的持续时长":            fDuration,
	"持续时长":                  fDuration,
	"云连接流程状态":               fProcessState,
	"流程状态":                  fProcessState,
	"云连接失败原因":               fFailure,
	"失败原因":                  fFailure,
	"云平台连接最近一次连接断开原因":       fDownReason,
	"最近一次连接断开原因":            fDownReason,
	"云平台连接最近一次连接断开时间":       fDownAt,
	"最近一次连接断开时间":            fDownAt,
	"云平台连接最近一次报文发送失败原因":     fReportFailure,
	"最近一次报文发送失败原因":          fReportFailure,
	"云平台连接最近一次报文发送失败时间":     fReportFailureAt,
	"最近一次报文发送失败时间":          fReportFailureAt,
	"达到cmtnl缓存上限丢包的次数":      fDroppedBufferLimit,
	"总的丢包次数":                fDroppedTotal,
	"云平台连接最近一次报文发送未完成原因":    fIncomplete,
	"最近一次报文发送未完成原因":         fIncomplete,
	"最近一次报文发送未完成时间":         fIncompleteAt,
	"云平台连接最近一次报文发送未完成时间":    fIncompleteAt,
	"缓冲区满的次数":               fBufferFull,
}

// labelKey folds a label for lookup: lower case, runs of spaces as one.
func labelKey(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(s), " "))
}

// labels maps every accepted label, folded by labelKey, to its field.
var labels = func() map[string]field {
	m := make(map[string]field, 2*numFields)
	for f, l := range englishLabels {
		m[labelKey(l)] = field(f)
	}
	for l, f := range chineseLabels {
		m[labelKey(l)] = f
	}
	return m
}()

// Process states (display cloud-management state: Process state).
const (
	ProcessDNSNotParsed       = "DNS not parsed"
	ProcessDNSParsed          = "DNS parsed"
	ProcessMessageNotSent     = "Message not sent"
	ProcessMessageSent        = "Message sent"
	ProcessMessageNotReceived = "Message not received"
	ProcessMessageReceived    = "Message received"
)

// NA is what the display prints for a value it does not have.
const NA = "N/A"

// enum is a value list of the command reference: the English values and
// the Chinese descriptions each maps from.
type enum struct {
	name   string
	values []string
	zh     map[string]string
}

// canonical returns the value list's spelling of v (matched without
// regard to case, or from its Chinese description) and whether it is in
// the list.
func (e enum) canonical(v string) (string, bool) {
	for _, c := range e.values {
		if strings.EqualFold(c, v) {
			return c, true
		}
	}
	if c, ok := e.zh[strings.Join(strings.Fields(v), "")]; ok {
		return c, true
	}
	return v, false
}

var connStates = enum{name: "cloud connection state",
	values: []string{schema.CloudUnconnected, schema.CloudRequest, schema.CloudEstablished},
	zh:     map[string]string{"未建立连接": schema.CloudUnconnected, "已发送连接请求": schema.CloudRequest, "已建立连接": schema.CloudEstablished}}

var deviceStates = enum{name: "device state", values: schema.CloudDeviceStates(), zh: map[string]string{
	"空闲": "Idle", "与云平台服务器连接中": "Connecting",
	"已发送请求CAS服务器URL的报文": "Request_CAS_url", "请求CAS服务器的URL成功": "Request_CAS_url_success",
	"已发送请求CAS认证所需TGT的报文": "Request_CAS_TGT", "请求CAS认证所需TGT成功": "Request_CAS_TGT_success",
	"已发送请求CAS认证所需ST的报文": "Request_CAS_ST", "请求CAS认证所需ST成功": "Request_CAS_ST_success",
	"已向云平台服务器发送云平台认证请求": "Request_cloud_auth", "已通过云平台认证": "Request_cloud_auth_success",
	"向云平台服务器发起注册": "Register", "在云平台服务器上注册成功": "Register_success",
	"已发送握手请求": "Request", "握手成功": "Request_success",
}}

// ProcessStates lists the Process state values of the command reference.
func ProcessStates() []string {
	return []string{ProcessDNSNotParsed, ProcessDNSParsed, ProcessMessageNotSent, ProcessMessageSent,
		ProcessMessageNotReceived, ProcessMessageReceived}
}

var processStates = enum{name: "process state", values: ProcessStates(), zh: map[string]string{
	"未解析DNS": ProcessDNSNotParsed, "解析DNS完成": ProcessDNSParsed, "未发送消息": ProcessMessageNotSent,
	"已发送消息": ProcessMessageSent, "未接收消息": ProcessMessageNotReceived, "已接收消息": ProcessMessageReceived,
}}

var failureReasons = enum{name: "failure reason", values: schema.CloudFailureReasons(), zh: map[string]string{
	"DNS解析失败": "DNS parse failed", "Socket连接失败": "Socket connection failed", "SSL模式创建失败": "SSL creation failed",
	"发送请求CAS服务器URL的报文失败": "Sending CAS url request failed", "发送请求CAS认证所需TGT的报文失败": "Sending CAS TGT failed",
	"发送请求CAS认证所需ST的报文失败": "Sending CAS ST failed", "向云平台服务器发送云平台认证请求失败": "Sending cloud auth failed",
	"向云平台服务器发送注册请求失败": "Sending register failed", "处理CAS服务器URL的回应报文失败": "Processing CAS url response failed",
	"处理CAS认证所需TGT的回应报文失败": "Processing CAS TGT response failed", "处理CAS认证所需ST的回应报文失败": "Processing CAS ST response failed",
	"处理云平台认证回应报文失败": "Processing cloud auth response failed", "处理云平台服务器注册回应报文失败": "Processing register response failed",
	"发送握手请求报文失败": "Sending handshake request failed", "处理握手报文失败": "Processing handshake failed",
	"发送websocket请求失败": "Sending websocket request failed", "处理websocket报文失败": "Processing websocket packet failed",
}}

var downReasons = enum{name: "last down reason", values: schema.CloudDownReasons(), zh: map[string]string{
	"设备或进程重启": "Device or process rebooted", "Socket连接异常": "Socket connection error", "云管理配置变化": "Configuration changed",
	"收到云端发来的websocket关闭报文": "Received websocket close packet from cloud", "保活报文超时": "Keepalive expired",
	"处理报文失败": "Packet processing failed", "主连接断开": "Main connection went down", "云端重置连接": "Cloud reset connection",
	"内存门限告警": "Memory reached threshold",
}}

// ReportFailureReasons lists the Last report failure reason values of the
// command reference.
func ReportFailureReasons() []string {
	return []string{"Tunnel is being deleted", "Tunnel socket is invalid", "Failed to convert string to json",
		"Failed to convert json to string", "Failed to create message node", "Tunnel is not ready",
		"Failed to create packet buffer", "SSL sending failure"}
}

var reportFailureReasons = enum{name: "last report failure reason", values: ReportFailureReasons(), zh: map[string]string{
	"隧道正在删除": "Tunnel is being deleted", "隧道的socket是无效的": "Tunnel socket is invalid",
	"字符串转换json失败": "Failed to convert string to json", "json转换字符串失败": "Failed to convert json to string",
	"创建信息节点失败": "Failed to create message node", "隧道状态未就绪": "Tunnel is not ready",
	"创建报文缓冲区失败": "Failed to create packet buffer", "SSL发送失败": "SSL sending failure",
}}

// IncompleteReasons lists the Last report incomplete reason values of the
// command reference.
func IncompleteReasons() []string {
	return []string{"Interrupted system call", "Socket buffer is full"}
}

var incompleteReasons = enum{name: "last report incomplete reason", values: IncompleteReasons(), zh: map[string]string{
	"系统调用": "Interrupted system call", "Socket缓冲区满": "Socket buffer is full",
}}
