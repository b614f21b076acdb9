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
