// Package e2e tests whospoke as its users run it: the built binary serving on
// loopback, driven by the vendors' official clients, schemathesis, and
// several nodes sharing real NATS, PostgreSQL and S3 (MinIO) servers. It
// holds tests only.
package e2e
