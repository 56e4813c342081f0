/* main.c: placeholder until the daemon lands. */
#include "core/log.h"
int main(void)
{
    log_info("start", NULL);
    return 0;
}
