/* Work in progress: the implementation lands in the next commits. */
#include "kl_selector.h"
