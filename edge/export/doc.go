// Package export encodes flows rows as the datagrams real exporters send:
// NetFlow v9 and IPFIX (template and data sets, templates re-sent
// periodically) and sFlow v5 (flow samples with a raw packet header). The
// demo uses it to drive the edge's UDP listeners with live traffic made by
// storage/gen, so the whole receive → decode → segment → lake path runs;
// load tests use it as a sender.
package export
