/* check_num_order.c: see check_num.c. */
#include "check_num.h"

TCase *num_tcase_order(void)
{
    TCase *tc = tcase_create("order");
    return tc;
}
