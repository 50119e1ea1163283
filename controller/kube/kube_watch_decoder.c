#include "kube_watch_decoder.h"
