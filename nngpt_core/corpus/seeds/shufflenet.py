"""ShuffleNet v2: split channels, transform one half, concatenate and shuffle the channel groups."""

import torch
import torch.nn as nn
import torch.nn.functional as F

WIDTH = 24
DEPTH = 2
STAGES = 3
KERNEL = 3
ACTIVATION = nn.ReLU
NORM = nn.BatchNorm2d
POOL = nn.AdaptiveAvgPool2d


def supported_hyperparameters():
    return {'lr', 'momentum', 'dropout'}


class ConvBlock(nn.Module):
    def __init__(self, in_channels, channels, kernel_size=KERNEL, stride=1, groups=1):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, channels, kernel_size, stride, kernel_size // 2, groups=groups, bias=False)
        self.norm = NORM(channels)
        self.act = ACTIVATION()

    def forward(self, x):
        return self.act(self.norm(self.conv(x)))


def channel_shuffle(x, groups):
    batch, channels, height, width = x.shape
    x = x.view(batch, groups, channels // groups, height, width)
    return x.transpose(1, 2).reshape(batch, channels, height, width)


class ShuffleBlock(nn.Module):
    def __init__(self, in_channels, channels, stride=1):
        super().__init__()
        self.stride = stride
        half = channels // 2
        branch_in = in_channels if stride > 1 else in_channels // 2
        self.branch = nn.Sequential(
            ConvBlock(branch_in, half, 1),
            nn.Conv2d(half, half, KERNEL, stride, KERNEL // 2, groups=half, bias=False),
            NORM(half),
            ConvBlock(half, half, 1),
        )
        self.shortcut = nn.Identity()
        if stride > 1:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, in_channels, KERNEL, stride, KERNEL // 2, groups=in_channels, bias=False),
                NORM(in_channels),
                ConvBlock(in_channels, half, 1),
            )

    def forward(self, x):
        if self.stride > 1:
            out = torch.cat([self.shortcut(x), self.branch(x)], 1)
        else:
            left, right = x.chunk(2, dim=1)
            out = torch.cat([left, self.branch(right)], 1)
        return channel_shuffle(out, 2)


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
        self.stem = ConvBlock(in_channels, channels, KERNEL, stride)
        layers = []
        for stage in range(STAGES):
            width = WIDTH * 2 ** (stage + 1)
            stride = 2 if stage > 0 and size >= 4 else 1
            size = size // stride
            layers.append(ShuffleBlock(channels, width, 2))
            for index in range(DEPTH - 1):
                layers.append(ShuffleBlock(width, width))
            channels = width
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
