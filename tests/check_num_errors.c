/* check_num_errors.c: see check_num.c. */
#include "check_num.h"

TCase *num_tcase_limits(void)
{
    TCase *tc = tcase_create("limits");
    return tc;
}

TCase *num_tcase_errors(void)
{
    TCase *tc = tcase_create("errors");
    return tc;
}
