#include <string.h>

#include "ms_signal.h"

volatile sig_atomic_t ms_stop_signal = 0;
volatile sig_atomic_t ms_reload_signal = 0;

static void on_reload(int sig)
{
    (void)sig;
    ms_reload_signal = 1;
}

int ms_signal_install_reload(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_reload;
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGHUP, &sa, NULL);
}

static void on_stop(int sig)
{
    ms_stop_signal = sig;
}

int ms_signal_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
        return -1;
    sa.sa_handler = SIG_IGN;
    return sigaction(SIGPIPE, &sa, NULL);
}
