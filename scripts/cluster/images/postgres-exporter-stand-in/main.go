// Command postgres-exporter-stand-in serves the PostgreSQL metrics this repository's dashboard
// and alerts read, under the names and labels prometheus-community/postgres_exporter gives them,
// on the same port and from the same environment variables the StatefulSet passes to it.
//
// It exists because the real exporter cannot be built on the project's machines (its Go module
// is not served by the module proxy they reach); scripts/cluster/images.sh builds this instead
// and says so. It is a STAND-IN: only the metrics below, none of the exporter's other
// collectors, flags or configuration files. docs/image.md explains the choice.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	_ "github.com/lib/pq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// dataSourceName builds the connection URL the way postgres_exporter does: DATA_SOURCE_NAME
// wins; otherwise DATA_SOURCE_URI (host:port/db?params) with DATA_SOURCE_USER and
// DATA_SOURCE_PASS (or their _FILE variants) as credentials.
func dataSourceName() (string, error) {
	if dsn := os.Getenv("DATA_SOURCE_NAME"); dsn != "" {
		return dsn, nil
	}
	uri := os.Getenv("DATA_SOURCE_URI")
	if uri == "" {
		return "", fmt.Errorf("set DATA_SOURCE_NAME or DATA_SOURCE_URI")
	}
	user, err := fromEnvOrFile("DATA_SOURCE_USER")
	if err != nil {
		return "", err
	}
	pass, err := fromEnvOrFile("DATA_SOURCE_PASS")
	if err != nil {
		return "", err
	}
	if !strings.Contains(uri, "://") {
		uri = "postgresql://" + uri
	}
	parsed, err := url.Parse(uri)
	if err != nil {
		return "", fmt.Errorf("DATA_SOURCE_URI: %w", err)
	}
	if user != "" {
		parsed.User = url.UserPassword(user, pass)
	}
	return parsed.String(), nil
}

func fromEnvOrFile(name string) (string, error) {
	if file := os.Getenv(name + "_FILE"); file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("%s_FILE: %w", name, err)
		}
		return strings.TrimSpace(string(data)), nil
	}
	return os.Getenv(name), nil
}

var (
	up          = prometheus.NewDesc("pg_up", "Whether the last scrape could query PostgreSQL (1) or not (0).", nil, nil)
	numBackends = prometheus.NewDesc("pg_stat_database_numbackends",
		"Number of backends currently connected to this database.", []string{"datid", "datname"}, nil)
	databaseSize   = prometheus.NewDesc("pg_database_size_bytes", "Disk space used by the database.", []string{"datname"}, nil)
	maxConnections = prometheus.NewDesc("pg_settings_max_connections",
		"Server Parameter: max_connections", nil, nil)
	activityCount = prometheus.NewDesc("pg_stat_activity_count",
		"number of connections in this state", []string{"datname", "state"}, nil)
)

// collector queries PostgreSQL on every scrape, like postgres_exporter: a database that is
// down shows up as pg_up 0 at the next scrape, never as a failed scrape or a crash.
type collector struct {
	db      *sql.DB
	timeout time.Duration
}

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{up, numBackends, databaseSize, maxConnections, activityCount} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	if err := c.collect(ctx, ch); err != nil {
		slog.Error("scrape failed", "err", err)
		ch <- prometheus.MustNewConstMetric(up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(up, prometheus.GaugeValue, 1)
}

func (c collector) collect(ctx context.Context, ch chan<- prometheus.Metric) error {
	rows, err := c.db.QueryContext(ctx,
		`SELECT datid::text, datname, numbackends, pg_database_size(datname)
		   FROM pg_stat_database WHERE datname IS NOT NULL`)
	if err != nil {
		return err
	}
	var metrics []prometheus.Metric
	for rows.Next() {
		var datid, datname string
		var backends, size float64
		if err := rows.Scan(&datid, &datname, &backends, &size); err != nil {
			rows.Close()
			return err
		}
		metrics = append(metrics,
			prometheus.MustNewConstMetric(numBackends, prometheus.GaugeValue, backends, datid, datname),
			prometheus.MustNewConstMetric(databaseSize, prometheus.GaugeValue, size, datname))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}

	var max float64
	if err := c.db.QueryRowContext(ctx, `SELECT setting::float8 FROM pg_settings WHERE name = 'max_connections'`).Scan(&max); err != nil {
		return err
	}
	metrics = append(metrics, prometheus.MustNewConstMetric(maxConnections, prometheus.GaugeValue, max))

	rows, err = c.db.QueryContext(ctx,
		`SELECT datname, state, count(*) FROM pg_stat_activity
		  WHERE datname IS NOT NULL AND state IS NOT NULL GROUP BY datname, state`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var datname, state string
		var count float64
		if err := rows.Scan(&datname, &state, &count); err != nil {
			return err
		}
		metrics = append(metrics, prometheus.MustNewConstMetric(activityCount, prometheus.GaugeValue, count, datname, state))
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, m := range metrics {
		ch <- m
	}
	return nil
}

func main() {
	listen := flag.String("web.listen-address", ":9187", "Address to listen on for the landing page and metrics.")
	path := flag.String("web.telemetry-path", "/metrics", "Path under which to expose metrics.")
	flag.Parse()

	dsn, err := dataSourceName()
	if err != nil {
		slog.Error("no data source", "err", err)
		os.Exit(1)
	}
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		slog.Error("bad data source", "err", err)
		os.Exit(1)
	}
	// One connection, like postgres_exporter: the exporter must never crowd the database.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)

	registry := prometheus.NewRegistry()
	registry.MustRegister(collector{db: db, timeout: 10 * time.Second})

	mux := http.NewServeMux()
	mux.Handle(*path, promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	// The readiness probe's page: answers without touching the database.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<html><head><title>postgres-exporter STAND-IN</title></head><body>"+
			"<h1>postgres-exporter stand-in</h1><p><a href=%q>Metrics</a></p></body></html>\n", *path)
	})
	server := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	slog.Info("postgres-exporter STAND-IN listening (not prometheus-community/postgres_exporter)", "address", *listen)
	if err := server.ListenAndServe(); err != nil {
		slog.Error("server stopped", "err", err)
		os.Exit(1)
	}
}
