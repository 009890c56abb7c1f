package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/99designs/gqlgen/graphql/playground"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/flowlake/flowlake/graph/generated"
	"github.com/flowlake/flowlake/storage/query"
)

// Handler serves GraphQL over HTTP (GET and POST) and WebSocket
// (subscriptions, graphql-transport-ws and the older graphql-ws), and the
// playground page. The server mounting it authenticates requests and puts
// the caller in their context with WithCaller.
type Handler struct {
	subs          *subscriptions
	srv           *handler.Server
	playground    http.Handler
	requestBudget int64
}

// New builds the handler.
func New(cfg Config, deps Deps) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("graph config: %w", err)
	}
	cfg = cfg.withDefaults()
	if deps.Meta == nil {
		return nil, errors.New("graph: no metadata store")
	}
	if deps.Datasets == nil {
		return nil, errors.New("graph: no dataset lister")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	log := deps.Logger.With("component", "graph")
	r := &Resolver{cfg: cfg, deps: deps, log: log, subs: newSubscriptions(cfg.MaxSubscriptionsPerCaller)}
	es := generated.NewExecutableSchema(generated.Config{Resolvers: r, Complexity: complexity()})

	srv := handler.New(es)
	wsLimit := cfg.MaxBodyBytes // one WebSocket message holds one request, bounded as a body is
	srv.AddTransport(transport.Websocket{
		KeepAlivePingInterval: cfg.KeepAlive,
		PayloadReadLimit:      &wsLimit,
		// The server's authentication ran on the upgrade request (cookie
		// or bearer header); the default upgrader refuses cross-origin
		// browsers, so a session cookie cannot be ridden from elsewhere.
		ErrorFunc: func(ctx context.Context, err error) {
			// gqlgen's message errors quote what the client sent
			// ("invalid message type …"); bodies are never logged, so
			// only the kind of failure is.
			var we transport.WebsocketError
			read := errors.As(err, &we) && we.IsReadError
			log.DebugContext(ctx, "graphql websocket failed", "reading", read)
		},
		InitFunc: func(ctx context.Context, _ transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			if _, ok := callerFrom(ctx); !ok {
				return ctx, nil, ErrUnauthenticated
			}
			return ctx, nil, nil
		},
	})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(httpTransport{maxBody: cfg.MaxBodyBytes, slots: make(chan struct{}, cfg.MaxConcurrent), wait: cfg.AdmissionWait})
	srv.Use(extension.Introspection{})
	srv.Use(documentLimit{maxBytes: cfg.MaxQueryBytes, maxFields: cfg.MaxFields, maxAliases: cfg.MaxAliases})
	srv.Use(depthLimit{max: cfg.MaxDepth})
	srv.Use(extension.FixedComplexityLimit(cfg.MaxComplexity))
	srv.Use(scanLimit{planner: deps.Planner, maxQueries: cfg.MaxQueries, maxRowGroups: cfg.MaxScanRowGroups, maxRows: cfg.MaxScanRows, maxFirst: cfg.MaxFirst, log: log})
	srv.SetErrorPresenter(presenter(log))
	srv.SetRecoverFunc(func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "graphql resolver panic", "panic", fmt.Sprint(p))
		return gqlerror.Errorf("internal error; the server log has the cause")
	})
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		resp := next(ctx)
		if resp != nil {
			for _, e := range resp.Errors {
				if e.Extensions == nil || e.Extensions["code"] == nil {
					if e.Extensions == nil {
						e.Extensions = map[string]any{}
					}
					e.Extensions["code"] = CodeInternal
				}
			}
		}
		return resp
	})
	return &Handler{
		subs:          r.subs,
		srv:           srv,
		playground:    playground.Handler("Flowlake GraphQL", cfg.Endpoint),
		requestBudget: cfg.RequestMemoryBudget,
	}, nil
}

// ServeHTTP answers GraphQL requests; requests without a caller in their
// context are refused field by field with UNAUTHENTICATED. The queries of
// one HTTP request share its memory budget (Config.RequestMemoryBudget).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		r = r.WithContext(query.WithRequestBudget(r.Context(), h.requestBudget))
	}
	h.srv.ServeHTTP(w, r)
}

// Playground serves the GraphiQL page (its scripts come from a CDN).
func (h *Handler) Playground() http.Handler { return h.playground }
