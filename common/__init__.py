"""Omadata's shared library: what every app uses and no app owns.

The error format and the API's strict input, typed readers of the environment,
the URL guard and the one outbound HTTP client, and the stateless half of the
outboxes. It imports no app of the operator and not the project package
(`omadata/`, which holds the configuration): `make lint` checks that.
"""
