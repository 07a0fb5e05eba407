// The two calls every agent cycle makes through libcurl, in C, for scripts/bench-rss-floor.sh.
int fm_requests(const char *docker_socket, const char *url, const char *ca, const char *cert, const char *key);
void fm_print_rss(const char *label);
