"""PoolFormer: a MetaFormer whose token mixer is plain average pooling minus the identity."""

import torch
import torch.nn as nn
import torch.nn.functional as F

WIDTH = 32
DEPTH = 1
STAGES = 3
KERNEL = 3
EXPANSION = 4
ACTIVATION = nn.GELU
POOL = nn.AdaptiveAvgPool2d


def supported_hyperparameters():
    return {'lr', 'momentum', 'dropout'}


class PoolFormerBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.norm1 = nn.GroupNorm(1, channels)
        self.mixer = nn.AvgPool2d(KERNEL, 1, KERNEL // 2, count_include_pad=False)
        self.norm2 = nn.GroupNorm(1, channels)
        self.mlp = nn.Sequential(nn.Conv2d(channels, channels * EXPANSION, 1), ACTIVATION(), nn.Conv2d(channels * EXPANSION, channels, 1))

    def forward(self, x):
        out = self.norm1(x)
        x = x + self.mixer(out) - out
        return x + self.mlp(self.norm2(x))


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.device = device
        in_channels = in_shape[1]
        num_classes = out_shape[0]
        size = min(in_shape[2], in_shape[3])
        stride = 2 if size >= 16 else 1
        size = size // stride
        channels = WIDTH
        self.stem = nn.Conv2d(in_channels, channels, 2 * stride + 1, stride, stride)
        layers = []
        for stage in range(STAGES):
            width = WIDTH * 2 ** stage
            if stage > 0:
                stride = 2 if size >= 4 else 1
                size = size // stride
                layers.append(nn.Conv2d(channels, width, 3, stride, 1))
                channels = width
            for index in range(DEPTH):
                layers.append(PoolFormerBlock(channels))
        layers.append(nn.GroupNorm(1, channels))
        self.body = nn.Sequential(*layers)
        self.pool = POOL(1)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(prm['dropout']), nn.Linear(channels, num_classes))

    def forward(self, x):
        x = self.body(self.stem(x))
        return self.head(self.pool(x))

    def train_setup(self, prm):
        self.to(self.device)
        self.criteria = nn.CrossEntropyLoss().to(self.device)
        self.optimizer = torch.optim.SGD(self.parameters(), lr=prm['lr'], momentum=prm['momentum'])

    def learn(self, train_data):
        self.train()
        for inputs, labels in train_data:
            inputs, labels = inputs.to(self.device), labels.to(self.device)
            self.optimizer.zero_grad()
            loss = self.criteria(self(inputs), labels)
            loss.backward()
            nn.utils.clip_grad_norm_(self.parameters(), 3)
            self.optimizer.step()
