"""The queue server's settings, resolved by the core (flags > the app's environment variables >
``TETHER_QSERVER_*`` > ``[qserver]`` in the config file) for ``tether.connect`` and the CLI alike."""

from tether.adapter import Setting

SETTINGS = (
    Setting(
        "url",
        "Server URL; may carry https and a path prefix (instead of --host/--port).",
        env=("QSERVER_HTTP_SERVER_URI",),
    ),
    Setting(
        "api_key",
        "The API key (shows in the process list: prefer --api-key-file or the environment).",
        env=("QSERVER_HTTP_SERVER_API_KEY",),
        secret=True,
    ),
    Setting(
        "api_key_file",
        "Read the API key from this file (wins over --api-key when both are set).",
        env=("QSERVER_HTTP_SERVER_API_KEYFILE",),
        kind="path",
    ),
    Setting(
        "lock_key",
        "Send this lock key with writes to a locked queue or environment.",
        env=("QSERVER_LOCK_KEY",),
        secret=True,
    ),
    Setting("insecure", "Do not verify TLS certificates.", kind="bool"),
    Setting("ca_bundle", "Verify TLS with this CA bundle.", kind="path"),
)

# The manager's own 0MQ door (no HTTP server needed): see zmq.py and the README.
SETTINGS += (
    Setting(
        "zmq",
        "RE Manager's 0MQ control address tcp://HOST:PORT: talk to the manager itself, not the HTTP server.",
        env=("QSERVER_ZMQ_CONTROL_ADDRESS",),
    ),
    Setting(
        "zmq_public_key",
        "The manager's 0MQ public key, for an encrypted control socket (qserver-zmq-keys makes the pair).",
        env=("QSERVER_ZMQ_PUBLIC_KEY",),
    ),
    Setting(
        "zmq_info",
        "RE Manager's 0MQ info address tcp://HOST:PORT (console output; default: the control host, 60625).",
        env=("QSERVER_ZMQ_INFO_ADDRESS",),
    ),
)
