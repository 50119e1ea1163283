#include "kube_watch.h"
