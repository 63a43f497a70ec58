/// The credentials section every command that talks to a service shows in its help: which environment variables it
/// reads and how to keep a secret off the command line (where `ps` shows it to every user).
enum CredentialHelp {
    static let text = """
        Credentials come from the environment or from files (never from flags, which `ps` shows to every user), or \
        from a profile of the config file (--profile; a secret there may be { file = "PATH" }, mode 0600):
          kinopio    KINOPIO_API_KEY (user key) or KINOPIO_APP_KEY (app key with scopes; KINOPIO_KEY_KIND=user|app
                     overrides the guess); KINOPIO_BASE_URL
          kintone    KINTONE_API_TOKEN (t1,t2,… one per app; tokens need --app or KINTONE_APPS), or KINTONE_USERNAME +
                     KINTONE_PASSWORD; each secret also as a file: --api-token-file, --password-file (or the
                     variable with _FILE); KINTONE_BASIC_AUTH_USERNAME/_PASSWORD, KINTONE_PFX_FILE_PATH/_PASSWORD,
                     KINTONE_PROXY (else HTTPS_PROXY), KINTONE_TIMEOUT; KINTONE_BASE_URL
          kitemaker  KITEMAKER_TOKEN; KITEMAKER_BASE_URL
          kona       KONA_ACCESS_TOKEN, or KONA_REFRESH_TOKEN + KONA_CLIENT_ID + KONA_CLIENT_SECRET; KONA_BASE_URL
        `kitbag sandbox SERVICE` prints the variables that point kitbag at a local emulator.
        """
}
